"""Discovery restricted to a few changed paths: the same rules as ``discover``, no full walk.

Watch mode learns which paths changed; re-listing the whole project for each saved file
would cost a stat per file. ``ignored_paths`` answers "would discovery skip this path?"
(it also works for paths that no longer exist, so deletions can be judged), and
``discover_paths`` lists the indexable files at or under the given paths. Inside git,
git answers (``check-ignore`` / ``ls-files``) exactly as for a full run; outside git,
the nested ``.gitignore`` files along each path are applied.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from codeweaver.index.discovery import VCS_FOLDERS, Discovered, _git, collect
from codeweaver.index.git import run_git
from codeweaver.index.ignore import Ignorer, exclude_rules

__all__ = ["discover_paths", "ignored_paths", "is_vcs_path"]

_VCS = VCS_FOLDERS
_ARGS_PER_CALL = 500


def is_vcs_path(rel: str) -> bool:
    """True for anything inside ``.git/``, ``.hg/`` or ``.svn/`` (never indexed)."""
    return any(part in _VCS for part in rel.split("/"))


def _in_git(root: Path) -> bool:
    return _git(root, "rev-parse", "--is-inside-work-tree") is not None


def _run_git(root: Path, args: Sequence[str], stdin: bytes | None = None) -> str | None:
    # check-ignore exits 1 when nothing is ignored
    return run_git(root, args, stdin=stdin, ok_codes=(0, 1))


def _is_dir(path: Path) -> bool:
    """A folder, not a link to one (git and the walk treat links as files)."""
    return path.is_dir() and not path.is_symlink()


def _gitignored(root: Path) -> Ignorer:
    """The nested ``.gitignore`` files along each path (outside git), each read once."""
    return Ignorer(root, None)


def _excluded(root: Path, rels: Iterable[str], exclude: Sequence[str]) -> set[str]:
    ignorer = Ignorer(root, exclude_rules(exclude), gitignore=False)
    return {r for r in rels if is_vcs_path(r) or ignorer.skips(r, _is_dir(root / r))}


def ignored_paths(
    root: Path, rels: Sequence[str], *, exclude: Sequence[str] = (), use_git: bool = True
) -> set[str]:
    """Those of ``rels`` (project-relative, posix) that discovery would never index."""
    out = _excluded(root, rels, exclude)
    rest = [r for r in rels if r not in out]
    if not rest:
        return out
    if use_git and _in_git(root):
        for i in range(0, len(rest), _ARGS_PER_CALL):
            chunk = rest[i : i + _ARGS_PER_CALL]
            stdin = "\0".join(chunk).encode("utf-8", "surrogateescape")
            text = _run_git(root, ["check-ignore", "-z", "--stdin"], stdin)
            if text is None:  # e.g. a path inside a nested repository: judge by the files
                break
            out.update(p for p in text.split("\0") if p)
        else:
            return out
    files = _gitignored(root)
    out.update(r for r in rest if files.skips(r, _is_dir(root / r)))
    return out


def _git_listed(root: Path, rels: Sequence[str]) -> list[str] | None:
    listed: set[str] = set()
    for i in range(0, len(rels), _ARGS_PER_CALL):
        args = ["--literal-pathspecs", "ls-files", "-z", "--cached", "--others"]
        text = _run_git(root, [*args, "--exclude-standard", "--", *rels[i : i + _ARGS_PER_CALL]])
        if text is None:
            return None
        listed.update(p for p in text.split("\0") if p)
    return sorted(listed)


def _walked(root: Path, rels: Sequence[str]) -> list[str]:
    files = _gitignored(root)
    found: set[str] = set()
    for rel in rels:
        path = root / rel
        if not _is_dir(path):
            if (path.exists() or path.is_symlink()) and not files.skips(rel, False):
                found.add(rel)
            continue
        if files.skips(rel, True):
            continue
        for folder, dirs, names in os.walk(path):
            base = Path(folder).relative_to(root).as_posix()
            dirs[:] = sorted(
                d for d in dirs if d not in _VCS and not files.skips(f"{base}/{d}", True)
            )
            found.update(f"{base}/{n}" for n in names if not files.skips(f"{base}/{n}", False))
    return sorted(found)


def discover_paths(
    root: Path,
    rels: Sequence[str],
    *,
    max_bytes: int = 1_048_576,
    exclude: Sequence[str] = (),
    use_git: bool = True,
    protected: Sequence[Path] = (),
) -> Discovered:
    """The indexable files at or under ``rels``; paths that no longer exist yield nothing,
    nor do files inside ``protected`` (resolved paths)."""
    wanted = [r for r in dict.fromkeys(rels) if r and not is_vcs_path(r)]
    listed = _git_listed(root, wanted) if use_git and _in_git(root) else None
    candidates = listed if listed is not None else _walked(root, wanted)
    dropped = _excluded(root, candidates, exclude)
    kept = (rel for rel in candidates if rel not in dropped)
    return collect(root, kept, max_bytes, listed is not None, protected)
