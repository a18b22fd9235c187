"""A project's indexed files, as every edge serves them: one set of path rules.

The HTTP file route and structural search, and the MCP ``get_code`` and
``structural_search`` tools, all read through :class:`ProjectFiles`, so they accept
and refuse the same paths and answer in the same shape:

* a path is project-relative with ``/`` between folders; ``./`` and empty parts are
  normalised away (``./src//a.py`` is ``src/a.py``); backslashes, NUL bytes, absolute
  paths (``/x``, ``C:x``) and ``..`` are refused (``PathError``);
* only paths the project's manifest records are served (``NotFoundError`` otherwise);
* the file must resolve (symlinks included) to a regular file inside the project root
  and outside every protected location, and is read without following any symlink
  swapped in meanwhile (see ``confined``), up to the index's file size limit;
* at most ``MAX_LINES`` lines per read (``truncated`` says so), ``MAX_MATCHES`` matches
  per structural search; the language is the one indexing detected (``text`` if none).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from codeweaver.core.chunking import detect_language
from codeweaver.errors import InputError, NotFoundError, PathError
from codeweaver.index.confined import Escape, protected_hit, read_inside, real_relative
from codeweaver.index.projects import Project

__all__ = ["MAX_LINES", "MAX_MATCHES", "STRUCTURAL_LANGUAGES", "ProjectFiles", "clean_path"]

MAX_LINES = 2000  # lines returned by one read
MAX_MATCHES = 200  # matches returned by one structural search
MAX_PATH_CHARS = 4096
_MATCH_TEXT_LINES = 30
_MATCH_TEXT_CHARS = 4000
_DRIVE = re.compile(r"^[A-Za-z]:")

# Our language name -> the ast-grep language name (only languages ast-grep parses).
STRUCTURAL_LANGUAGES: dict[str, str] = {
    name: name
    for name in (
        "c", "cpp", "csharp", "css", "dart", "elixir", "go", "haskell", "hcl", "html",
        "java", "javascript", "json", "kotlin", "lua", "nix", "php", "python", "ruby",
        "rust", "scala", "solidity", "swift", "tsx", "typescript", "yaml", "zig",
    )
} | {"shell": "bash"}  # fmt: skip


def clean_path(path: str) -> str:
    """The normalised project-relative form of ``path``, or a one-line refusal."""
    if not path.strip():
        raise InputError("path is empty; give a project-relative path such as 'src/app.py'")
    if len(path) > MAX_PATH_CHARS:
        raise InputError(f"path is longer than {MAX_PATH_CHARS} characters")
    if "\0" in path:
        raise PathError("invalid file path: it holds a NUL byte")
    if "\\" in path:
        raise PathError(f"invalid file path {path!r}: separate folders with '/', not '\\'")
    if path.startswith("/") or _DRIVE.match(path):
        raise PathError(f"file path {path!r} must be relative to the project root")
    parts = path.split("/")
    if ".." in parts:
        raise PathError(f"file path {path!r} must not contain '..'")
    rel = "/".join(p for p in parts if p not in ("", "."))
    if not rel:
        raise InputError(f"path {path!r} names the project root, not a file")
    return rel


def _clip(text: str) -> str:
    lines = text.split("\n")
    if len(lines) > _MATCH_TEXT_LINES:
        more = len(lines) - _MATCH_TEXT_LINES
        text = "\n".join([*lines[:_MATCH_TEXT_LINES], f"… ({more} more lines)"])
    return text[:_MATCH_TEXT_CHARS]


class ProjectFiles:
    """The files ``project``'s manifest knows (``known``), read safely."""

    def __init__(
        self,
        project: Project,
        known: Sequence[str],
        protected: Collection[Path] = (),
        max_bytes: int = 1_048_576,
    ) -> None:
        self.project = project
        self._known = list(known)
        self._known_set = set(known)
        self._protected = tuple(protected)
        self._max_bytes = max_bytes
        self._root = project.root.resolve()

    # ------------------------------------------------------------------- reading
    def text(self, path: str) -> tuple[str, str]:
        """``(normalised path, text)`` of one indexed file, or a one-line refusal."""
        rel = clean_path(path)
        if rel not in self._known_set:
            raise NotFoundError(f"file {rel!r} is not indexed in project {self.project.name!r}")
        real = real_relative(self._root, rel)
        if real is None:
            raise PathError(f"file {rel!r} resolves outside the project root")
        if protected_hit(self._root / real, self._protected) is not None:
            raise PathError(f"file {rel!r} is in a location CodeWeaver never serves")
        try:
            data = read_inside(self._root, rel, self._max_bytes)
        except Escape as exc:
            raise PathError(f"file {rel!r} {exc}") from None
        except FileNotFoundError:
            raise NotFoundError(f"file {rel!r} no longer exists; re-index the project") from None
        except ValueError as exc:
            raise InputError(f"file {rel!r} is {exc}; it is no longer indexed") from None
        except OSError as exc:
            raise NotFoundError(f"cannot read file {rel!r}: {exc.strerror or exc}") from None
        return rel, data.decode("utf-8", errors="replace").replace("\r\n", "\n")

    def read(self, path: str, start_line: int | None, end_line: int | None) -> dict[str, Any]:
        """Lines ``start_line..end_line`` (1-based, inclusive) of one indexed file."""
        rel, text = self.text(path)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        total = len(lines)
        start = 1 if start_line is None else start_line
        end = total if end_line is None else min(end_line, total)
        if start < 1 or (end_line is not None and end_line < start):
            raise InputError(
                f"invalid line range {start_line}-{end_line}: lines are 1-based and start <= end"
            )
        if total and start > total:
            raise InputError(f"start_line {start} is past the end of {rel!r} ({total} lines)")
        truncated = end - start + 1 > MAX_LINES
        if truncated:
            end = start + MAX_LINES - 1
        return {
            "project": self.project.name,
            "path": rel,
            "language": detect_language(rel) or "text",
            "start_line": start if total else 0,
            "end_line": end,
            "total_lines": total,
            "truncated": truncated,
            "content": "\n".join(lines[start - 1 : end]),
        }

    # -------------------------------------------------------------- structural
    def structural(self, pattern: str, language: str, limit: int = MAX_MATCHES) -> dict[str, Any]:
        """ast-grep ``pattern`` over the indexed files of ``language``."""
        from ast_grep_py import SgRoot

        if not pattern.strip():
            raise InputError(
                "pattern is empty; give an ast-grep pattern such as 'def $NAME($$$ARGS)'"
            )
        lang = language.strip().lower()
        sg_lang = STRUCTURAL_LANGUAGES.get(lang)
        if sg_lang is None:
            names = ", ".join(sorted(STRUCTURAL_LANGUAGES))
            raise InputError(
                f"structural search does not support {language!r}; use one of: {names}"
            )
        cap = max(1, min(limit, MAX_MATCHES))
        matches: list[dict[str, Any]] = []
        searched = 0
        for rel in (p for p in self._known if detect_language(p) == lang):
            try:
                _, text = self.text(rel)
            except (InputError, NotFoundError):  # PathError is an InputError
                continue
            searched += 1
            try:
                nodes = SgRoot(text, sg_lang).root().find_all(pattern=pattern)
            except Exception as exc:  # ast-grep rejects the pattern itself
                first = (str(exc).splitlines() or ["invalid pattern"])[0]
                raise InputError(f"invalid {lang} pattern {pattern!r}: {first}") from None
            for node in nodes:
                if len(matches) == cap:
                    return self._matches(lang, searched, matches, truncated=True)
                rng = node.range()
                start, end = rng.start.line + 1, rng.end.line + 1
                matches.append(
                    {
                        "location": f"{rel}:{start}-{end}",
                        "path": rel,
                        "start_line": start,
                        "end_line": end,
                        "text": _clip(node.text()),
                    }
                )
        return self._matches(lang, searched, matches, truncated=False)

    def _matches(
        self, lang: str, searched: int, matches: list[dict[str, Any]], *, truncated: bool
    ) -> dict[str, Any]:
        return {
            "project": self.project.name,
            "language": lang,
            "files_searched": searched,
            "matches": matches,
            "truncated": truncated,
        }
