"""Markdown sections and line windows for other text."""

from __future__ import annotations

from codeweaver.core.chunking import ChunkOptions, chunk_file

GUIDE = """\
Intro text before any heading.

# Guide

Welcome.

## Install

Run this:

```sh
# not a heading
pip install codeweaver
```

~~~~
## also not a heading
```
still fenced
~~~~

### From source

Clone it.

## Usage ##

Use it.

Setext Title
============

Body one.

Sub Part
--------

Body two.
"""


def _outline(path: str, text: str, options: ChunkOptions | None = None) -> list[tuple]:
    return [
        (c.kind, c.symbol, c.start_line, c.end_line)
        for c in chunk_file(path, text, options=options)
    ]


def test_heading_paths_and_fences() -> None:
    assert _outline("docs/guide.md", GUIDE) == [
        ("section", "", 1, 1),
        ("section", "Guide", 3, 5),
        ("section", "Guide > Install", 7, 20),
        ("section", "Guide > Install > From source", 22, 24),
        ("section", "Guide > Usage", 26, 28),
        ("section", "Setext Title", 30, 33),
        ("section", "Setext Title > Sub Part", 35, 38),
    ]


def test_section_context_names_parents_and_heading() -> None:
    chunks = chunk_file("docs/guide.md", GUIDE)
    source = next(c for c in chunks if c.symbol.endswith("From source"))
    assert source.context == "# path: docs/guide.md\n# in Guide > Install\n# ### From source"
    assert source.language == "markdown"


def test_empty_heading_joins_next_section() -> None:
    text = "# Project\n\n## Setup\n\nSteps.\n\n## Empty at end\n"
    assert _outline("README.md", text) == [
        ("section", "Project > Setup", 1, 5),
        ("section", "Project > Empty at end", 7, 7),
    ]


def test_front_matter_and_thematic_breaks_are_not_headings() -> None:
    text = "---\ntitle: Doc\n---\n\nParagraph.\n\n---\n\n#hashtag is text\n\n# Real\nBody\n"
    assert _outline("post.md", text) == [
        ("section", "", 1, 9),
        ("section", "Real", 11, 12),
    ]


def test_oversized_section_is_cut_into_windows() -> None:
    body = "\n".join(f"Line {i} of a long section." for i in range(100))
    text = f"# Long\n{body}\n"
    options = ChunkOptions(max_lines=40, window=30, overlap=5)
    outline = _outline("long.md", text, options)
    assert outline == [
        ("section", "Long", 1, 30),
        ("section", "Long", 26, 55),
        ("section", "Long", 51, 80),
        ("section", "Long", 76, 101),
    ]


def test_yaml_uses_line_windows() -> None:
    text = "\n".join(f"key{i}: value{i}" for i in range(130)) + "\n"
    chunks = chunk_file("deploy/ci.yaml", text)
    assert [(c.language, c.kind, c.symbol) for c in chunks] == [("yaml", "text", "")] * 3
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 60), (51, 110), (101, 130)]
    assert chunks[0].context == "# path: deploy/ci.yaml"


def test_txt_and_unknown_files_use_line_windows() -> None:
    text = "\n".join(f"row {i}" for i in range(25))
    options = ChunkOptions(window=10, overlap=2)
    assert [(c.start_line, c.end_line) for c in chunk_file("notes.txt", text, options=options)] == [
        (1, 10),
        (9, 18),
        (17, 25),
    ]
    chunks = chunk_file("data.unknownext", "a\nb\n")
    assert [(c.language, c.kind, c.start_line, c.end_line) for c in chunks] == [
        ("text", "text", 1, 2)
    ]


def test_windows_skip_blank_edges_and_respect_max_chars() -> None:
    text = "\n\n" + "\n".join("x" * 50 for _ in range(10)) + "\n\n\n"
    chunks = chunk_file("wide.txt", text, options=ChunkOptions(max_chars=153, overlap=0))
    assert [(c.start_line, c.end_line) for c in chunks] == [(3, 5), (6, 8), (9, 11), (12, 12)]
    assert all(len(c.content) + 1 <= 153 for c in chunks)
