"""Invariants every chunking result keeps, over all fixtures and odd inputs."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest

from codeweaver.core.chunking import (
    SUPPORTED_LANGUAGES,
    TREE_SITTER_LANGUAGES,
    ChunkOptions,
    ContextOptions,
    build_context,
    chunk_file,
    detect_language,
)
from codeweaver.errors import ConfigError
from codeweaver.types import Chunk

FIXTURES = Path(__file__).parent / "fixtures" / "chunking"

BROKEN_PYTHON = """\
def good(a):
    return a + 1


def broken(x:
    return [x for


class Fine:
    def method(self):
        return 2
"""

INLINE = {
    "broken.py": BROKEN_PYTHON,
    "garbage.py": "))) ((( def ] class [ :::\n" * 40,
    "garbage.go": "}}}} func {{{{ type ((( \n" * 30,
    "notes.txt": "\n".join(f"note {i}" for i in range(200)),
    "README.md": "# Title\n\nText\n\n```sh\n# not a heading\n```\n\n## Next\nmore\n",
    "data.yaml": "\n".join(f"key{i}: value{i}" for i in range(130)),
    "crlf.py": "def f():\r\n    return 1\r\n\r\nx = 2\r\n",
    "one_line.js": "function a(){return 1}function b(){return 2}class C{m(){}}",
}


def _cases() -> list[tuple[str, str]]:
    cases = [(p.name, p.read_text("utf-8")) for p in sorted(FIXTURES.iterdir())]
    return cases + sorted(INLINE.items())


def _check_invariants(path: str, text: str, chunks: list[Chunk], options: ChunkOptions) -> None:
    lines = text.replace("\r\n", "\n").split("\n")
    covered = [False] * len(lines)
    previous_start = 0
    for chunk in chunks:
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines)
        assert chunk.content == "\n".join(lines[chunk.start_line - 1 : chunk.end_line])
        data = chunk.content.encode("utf-8", "surrogatepass")
        assert chunk.content_hash == hashlib.sha256(data).hexdigest()[:32]
        assert chunk.path == path
        assert chunk.start_line >= previous_start
        previous_start = chunk.start_line
        if chunk.start_line != chunk.end_line:
            assert chunk.end_line - chunk.start_line + 1 <= options.max_lines
        assert lines[chunk.start_line - 1].strip()
        assert lines[chunk.end_line - 1].strip()
        for row in range(chunk.start_line - 1, chunk.end_line):
            covered[row] = True
    missing = [i + 1 for i, line in enumerate(lines) if line.strip() and not covered[i]]
    assert missing == []


@pytest.mark.parametrize(("name", "text"), _cases(), ids=[name for name, _ in _cases()])
@pytest.mark.parametrize("options", [ChunkOptions(), ChunkOptions(min_lines=0, max_lines=4)])
def test_invariants(name: str, text: str, options: ChunkOptions) -> None:
    chunks = chunk_file(f"p/{name}", text, options=options)
    assert chunks
    _check_invariants(f"p/{name}", text, chunks, options)


def test_empty_and_blank_files_have_no_chunks() -> None:
    assert chunk_file("a.py", "") == []
    assert chunk_file("a.md", "  \n\n\t\n") == []
    assert chunk_file("a.txt", "\n") == []


def test_replacement_characters_and_lone_surrogates_do_not_crash() -> None:
    text = "def f():\n    return '\ufffd\udcff'\n\nx = '\udc80'\n# \x00 nul\n"
    chunks = chunk_file("odd.py", text)
    _check_invariants("odd.py", text, chunks, ChunkOptions())
    assert chunks[0].symbol == "f"
    assert len(chunk_file("odd.txt", "\udcff" * 10)) == 1


def test_syntax_error_file_still_has_definitions() -> None:
    chunks = chunk_file("broken.py", BROKEN_PYTHON, options=ChunkOptions(min_lines=0))
    assert [(c.kind, c.symbol, c.start_line, c.end_line) for c in chunks] == [
        ("function", "good", 1, 2),
        ("module", "", 5, 11),
    ]
    local_error = BROKEN_PYTHON.replace(
        "def broken(x:\n    return [x for", "def broken(x):\n    y = x +* 2"
    )
    chunks = chunk_file("broken.py", local_error, options=ChunkOptions(min_lines=0))
    assert [c.symbol for c in chunks] == ["good", "broken", "Fine", "Fine.method"]


def test_mostly_broken_file_falls_back_to_line_windows() -> None:
    text = INLINE["garbage.py"]
    chunks = chunk_file("garbage.py", text)
    assert [(c.kind, c.start_line, c.end_line) for c in chunks] == [("module", 1, 40)]
    assert chunks[0].language == "python"


def test_crlf_is_read_as_lf() -> None:
    chunks = chunk_file("crlf.py", INLINE["crlf.py"])
    assert chunks[0].content == "def f():\n    return 1"
    assert (chunks[0].start_line, chunks[0].end_line) == (1, 2)


def test_definitions_sharing_a_line_do_not_multiply() -> None:
    chunks = chunk_file("one_line.js", INLINE["one_line.js"])
    assert len(chunks) == 1


def _long_function(statements: int) -> str:
    body = []
    for i in range(statements):
        body.append(f"    if value > {i}:")
        body.append(f"        total += compute_something_expensive(value, {i})")
        if i % 7 == 0:
            body.append("")
    return "def long_one(value):\n    total = 0\n" + "\n".join(body) + "\n    return total\n"


def test_oversized_function_is_split_on_statement_boundaries() -> None:
    text = "import os\n\n\n" + _long_function(200) + "\n\ndef after():\n    pass\n"
    options = ChunkOptions(max_lines=50, max_chars=1500)
    chunks = chunk_file("big.py", text, options=options)
    parts = [c for c in chunks if c.symbol == "long_one"]
    assert len(parts) > 8
    assert {c.kind for c in parts} == {"function"}
    assert {c.context for c in parts} == {"# path: big.py\n# def long_one(value)"}
    assert parts[0].start_line == 4
    lines = text.split("\n")
    assert parts[-1].end_line == lines.index("    return total") + 1
    for before, after in itertools.pairwise(parts):
        assert after.start_line > before.end_line
        gap = lines[before.end_line : after.start_line - 1]
        assert all(not line.strip() for line in gap)
        assert lines[after.start_line - 1].lstrip().startswith(("if ", "return"))
    for part in parts:
        assert part.end_line - part.start_line + 1 <= 50
        assert len(part.content) + 1 <= 1500
    _check_invariants("big.py", text, chunks, options)
    assert chunks[-1].symbol == "after"


def test_oversized_block_without_boundaries_is_cut_hard() -> None:
    text = 'TEXT = """\n' + "\n".join(f"line {i}" for i in range(95)) + '\n"""\n'
    options = ChunkOptions(max_lines=30)
    chunks = chunk_file("doc.py", text, options=options)
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 30), (31, 60), (61, 90), (91, 97)]
    assert {c.kind for c in chunks} == {"module"}


def test_single_long_line_is_one_chunk() -> None:
    text = "x = [" + ", ".join(str(i) for i in range(3000)) + "]\n"
    chunks = chunk_file("long.py", text, options=ChunkOptions(max_chars=500))
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 1)]


def test_context_flags() -> None:
    assert build_context("a.py", ["class A"], "def f(self)") == (
        "# path: a.py\n# in class A\n# def f(self)"
    )
    assert build_context("a.py", ["class A"], "def f(self)", include_path=False) == (
        "# in class A\n# def f(self)"
    )
    assert build_context("a.py", ["class A", "class B"], "x", include_signature=False) == (
        "# path: a.py\n# in class A > class B"
    )
    assert build_context("a.py", [], "", include_container=False) == "# path: a.py"
    options = ChunkOptions(
        min_lines=0, context=ContextOptions(include_path=False, include_signature=False)
    )
    text = (FIXTURES / "sample.py").read_text("utf-8")
    start = next(c for c in chunk_file("s.py", text, options=options) if c.name == "start")
    assert start.context == "# in class Server"


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError):
        ChunkOptions(max_lines=0)
    with pytest.raises(ConfigError):
        ChunkOptions(window=10, overlap=10)
    with pytest.raises(ConfigError):
        ChunkOptions(min_lines=-1)
    with pytest.raises(ConfigError):
        ChunkOptions(max_chars=0)


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("a/b.py", "python"),
        ("x.pyi", "python"),
        ("x.mjs", "javascript"),
        ("x.cjs", "javascript"),
        ("x.jsx", "javascript"),
        ("x.ts", "typescript"),
        ("x.mts", "typescript"),
        ("x.cts", "typescript"),
        ("x.tsx", "tsx"),
        ("x.go", "go"),
        ("x.rs", "rust"),
        ("X.java", "java"),
        ("x.c", "c"),
        ("x.h", "c"),
        ("x.cpp", "cpp"),
        ("x.cc", "cpp"),
        ("x.cxx", "cpp"),
        ("x.hpp", "cpp"),
        ("x.hh", "cpp"),
        ("x.hxx", "cpp"),
        ("x.cs", "csharp"),
        ("x.rb", "ruby"),
        ("x.php", "php"),
        ("README.md", "markdown"),
        ("doc.markdown", "markdown"),
        ("run.sh", "shell"),
        ("ci.yml", "yaml"),
        ("ci.yaml", "yaml"),
        ("pyproject.toml", "toml"),
        ("x.json", "json"),
        ("q.sql", "sql"),
        ("i.html", "html"),
        ("s.css", "css"),
        ("m.kt", "kotlin"),
        ("m.swift", "swift"),
        ("m.scala", "scala"),
        ("m.lua", "lua"),
        ("Dockerfile", "dockerfile"),
        ("sub/Makefile", "make"),
        ("Gemfile", "ruby"),
        ("UPPER.PY", "python"),
        ("notes.txt", "text"),
        ("archive.bin", None),
        ("no_extension", None),
        (".hidden", None),
    ],
)
def test_detect_language(path: str, language: str | None) -> None:
    assert detect_language(path) == language
    if language is not None:
        assert language in SUPPORTED_LANGUAGES


def test_supported_languages() -> None:
    assert sorted(TREE_SITTER_LANGUAGES) == [
        "c", "cpp", "csharp", "go", "java", "javascript", "php", "python", "ruby", "rust",
        "tsx", "typescript",
    ]  # fmt: skip
    assert TREE_SITTER_LANGUAGES | {"markdown", "yaml", "text"} <= SUPPORTED_LANGUAGES


def test_explicit_language_overrides_detection() -> None:
    chunks = chunk_file("script", "def f():\n    return 1\n", language="python")
    assert [(c.language, c.kind, c.symbol) for c in chunks] == [("python", "function", "f")]
