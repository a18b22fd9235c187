"""Safe access to a project's indexed files: reading line ranges and ast-grep matching.

Only paths the project's manifest knows are served, and only when they resolve to a
regular file inside the project root (no ``..``, absolute paths or symlink escapes).
"""

from __future__ import annotations

import posixpath
from pathlib import Path, PurePosixPath
from typing import Any

from codeweaver.core.chunking import detect_language
from codeweaver.errors import InputError, NotFoundError, PathError
from codeweaver.index.manifest import Manifest
from codeweaver.index.projects import Project

__all__ = [
    "MAX_LINES",
    "MAX_MATCHES",
    "STRUCTURAL_LANGUAGES",
    "indexed_paths",
    "read_lines",
    "safe_path",
    "structural_matches",
]

MAX_LINES = 2000  # lines returned by one get_code call
MAX_MATCHES = 200  # matches returned by one structural_search call
_MATCH_TEXT_LINES = 30

# Our language name -> the ast-grep language name (only languages ast-grep parses).
STRUCTURAL_LANGUAGES: dict[str, str] = {
    name: name
    for name in (
        "c", "cpp", "csharp", "css", "dart", "elixir", "go", "haskell", "hcl", "html",
        "java", "javascript", "json", "kotlin", "lua", "nix", "php", "python", "ruby",
        "rust", "scala", "solidity", "swift", "tsx", "typescript", "yaml", "zig",
    )
} | {"shell": "bash"}  # fmt: skip


def indexed_paths(project: Project) -> list[str]:
    """The project-relative paths the project's manifest records, sorted."""
    if not project.manifest_path.is_file():
        return []
    with Manifest(project.manifest_path) as manifest:
        return sorted(manifest.files())


def safe_path(project: Project, path: str, known: set[str] | list[str]) -> Path:
    """The absolute file behind a project-relative ``path``, or a clear error."""
    text = path.strip().replace("\\", "/")
    if not text:
        raise InputError("path is empty; give a project-relative path such as 'src/app.py'")
    pure = PurePosixPath(text)
    if pure.is_absolute() or text.startswith("~") or (len(text) > 1 and text[1] == ":"):
        raise PathError(f"path {path!r} must be relative to the project root")
    if ".." in pure.parts:
        raise PathError(f"path {path!r} must not contain '..'")
    rel = posixpath.normpath(text).removeprefix("./")
    if rel not in known:
        raise NotFoundError(
            f"file {rel!r} is not indexed in project {project.name!r}; "
            "use search_code to find paths"
        )
    root = project.root.resolve()
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise PathError(f"path {path!r} resolves outside the project root")
    if not target.is_file():
        raise NotFoundError(f"file {rel!r} no longer exists under {root}; re-index the project")
    return target


def _read_text(target: Path, rel: str) -> str:
    try:
        return target.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
    except OSError as exc:
        raise NotFoundError(f"cannot read {rel!r}: {exc.strerror or exc}") from exc


def read_lines(
    project: Project, path: str, start_line: int | None, end_line: int | None
) -> dict[str, Any]:
    """Lines ``start_line..end_line`` (1-based, inclusive) of one indexed file."""
    target = safe_path(project, path, set(indexed_paths(project)))
    rel = target.relative_to(project.root.resolve()).as_posix()
    lines = _read_text(target, rel).split("\n")
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
        "project": project.name,
        "path": rel,
        "language": detect_language(rel) or "text",
        "start_line": start if total else 0,
        "end_line": end,
        "total_lines": total,
        "truncated": truncated,
        "content": "\n".join(lines[start - 1 : end]),
    }


def _clip(text: str) -> str:
    lines = text.split("\n")
    if len(lines) <= _MATCH_TEXT_LINES:
        return text
    more = len(lines) - _MATCH_TEXT_LINES
    return "\n".join([*lines[:_MATCH_TEXT_LINES], f"… ({more} more lines)"])


def structural_matches(project: Project, pattern: str, language: str) -> dict[str, Any]:
    """ast-grep ``pattern`` over the project's indexed files of ``language``."""
    from ast_grep_py import SgRoot

    if not pattern.strip():
        raise InputError("pattern is empty; give an ast-grep pattern such as 'def $NAME($$$ARGS)'")
    lang = language.strip().lower()
    sg_lang = STRUCTURAL_LANGUAGES.get(lang)
    if sg_lang is None:
        names = ", ".join(sorted(STRUCTURAL_LANGUAGES))
        raise InputError(f"structural search does not support {language!r}; use one of: {names}")
    root = project.root.resolve()
    paths = [p for p in indexed_paths(project) if detect_language(p) == lang]
    matches: list[dict[str, Any]] = []
    truncated = False
    for rel in paths:
        try:
            target = safe_path(project, rel, {rel})
        except (PathError, NotFoundError):
            continue
        try:
            nodes = SgRoot(_read_text(target, rel), sg_lang).root().find_all(pattern=pattern)
        except Exception as exc:  # ast-grep rejects the pattern itself
            raise InputError(f"invalid ast-grep pattern {pattern!r}: {exc}") from None
        for node in nodes:
            if len(matches) == MAX_MATCHES:
                truncated = True
                break
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
        if truncated:
            break
    return {
        "project": project.name,
        "root": str(root),
        "language": lang,
        "files_searched": len(paths),
        "matches": matches,
        "truncated": truncated,
    }
