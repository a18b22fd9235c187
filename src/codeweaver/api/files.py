"""Reading indexed files safely, and structural (ast-grep) search over them."""

from __future__ import annotations

import posixpath
from collections.abc import Collection
from pathlib import Path
from typing import Any

from codeweaver.core.chunking.languages import detect_language
from codeweaver.engine import Engine, Tenants
from codeweaver.errors import InputError, NotFoundError, PathError

__all__ = ["AST_GREP_LANGUAGES", "read_slice", "safe_file", "structural_search"]

# our language names -> ast-grep's (only these are ever handed to ast-grep)
AST_GREP_LANGUAGES = {
    "python": "python",
    "javascript": "javascript",
    "typescript": "typescript",
    "tsx": "tsx",
    "go": "go",
    "rust": "rust",
    "java": "java",
    "c": "c",
    "cpp": "cpp",
    "csharp": "csharp",
    "ruby": "ruby",
    "php": "php",
}
MAX_MATCH_TEXT = 4000


def _clean_relative(path: str) -> str:
    if not path or "\x00" in path or "\\" in path:
        raise PathError(f"invalid file path {path!r}")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise PathError(f"file path must be relative to the project root: {path!r}")
    parts = path.split("/")
    if any(p in ("..", ".") for p in parts) or "" in parts:
        raise PathError(f"file path must not contain '.', '..' or empty parts: {path!r}")
    return posixpath.normpath(path)


def safe_file(root: Path, known: Collection[str], path: str) -> Path:
    """The real file of an indexed ``path``, refusing anything that leaves ``root``."""
    rel = _clean_relative(path)
    if rel not in known:
        raise NotFoundError(f"file {path!r} is not in the project's index")
    real_root = root.resolve()
    full = (real_root / rel).resolve()
    if not full.is_relative_to(real_root):
        raise PathError(f"file {path!r} resolves outside the project root")
    if not full.is_file():
        raise NotFoundError(f"file {path!r} no longer exists on disk")
    return full


def _read_text(full: Path, path: str) -> str:
    try:
        return full.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise NotFoundError(f"cannot read file {path!r}: {exc.strerror}") from exc


def read_slice(
    engine: Engine,
    project: str,
    path: str,
    start_line: int | None,
    end_line: int | None,
    tenants: Tenants = None,
) -> dict[str, Any]:
    proj, known = engine.indexed_paths(project, tenants)
    full = safe_file(proj.root, known, path)
    lines = _read_text(full, path).splitlines()
    total = len(lines)
    start = start_line or 1
    end = end_line or total
    if end_line is not None and end_line < start:
        raise InputError(f"end_line ({end_line}) is before start_line ({start})")
    if total and start > total:
        raise InputError(f"start_line {start} is past the end of the file ({total} lines)")
    end = min(end, total)
    return {
        "project": proj.name,
        "path": path,
        "language": detect_language(path),
        "start_line": start,
        "end_line": end,
        "total_lines": total,
        "content": "\n".join(lines[start - 1 : end]),
    }


def structural_search(
    engine: Engine,
    project: str | None,
    pattern: str,
    language: str,
    limit: int,
    tenants: Tenants = None,
) -> dict[str, Any]:
    from ast_grep_py import SgRoot

    lang = AST_GREP_LANGUAGES.get(language.lower())
    if lang is None:
        names = ", ".join(sorted(AST_GREP_LANGUAGES))
        raise InputError(f"structural search does not support {language!r} (use one of: {names})")
    proj, paths = engine.indexed_paths(project, tenants)
    known = set(paths)
    matches: list[dict[str, Any]] = []
    files = 0
    truncated = False
    for rel in paths:
        if detect_language(rel) != language.lower():
            continue
        try:
            full = safe_file(proj.root, known, rel)
        except (NotFoundError, PathError):
            continue
        files += 1
        root = SgRoot(_read_text(full, rel), lang).root()
        try:
            found = root.find_all(pattern=pattern)
        except RuntimeError as exc:
            raise InputError(f"invalid {language} pattern: {str(exc).splitlines()[0]}") from exc
        for node in found:
            if len(matches) >= limit:
                truncated = True
                break
            r = node.range()
            matches.append(
                {
                    "path": rel,
                    "start_line": r.start.line + 1,
                    "end_line": r.end.line + 1,
                    "text": node.text()[:MAX_MATCH_TEXT],
                }
            )
        if truncated:
            break
    return {
        "project": proj.name,
        "language": language.lower(),
        "matches": matches,
        "files_searched": files,
        "truncated": truncated,
    }
