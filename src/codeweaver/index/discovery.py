"""Find the files of a project that should be indexed.

Inside a git work tree git itself answers (tracked + untracked-not-ignored files), so
``.gitignore`` at any depth, negations, ``.git/info/exclude`` and the global excludes
all behave exactly as ``git status`` shows them. Outside git, ``.gitignore`` files are
applied with git's semantics (nested files, negation) by ``codeweaver.index.ignore``,
in time linear in each path whatever the patterns. On top of either, the configured
``exclude`` patterns apply (an ignored folder is not walked into). Every candidate is
resolved (symlinks anywhere along its path included): one that resolves outside the
root, or into a protected location (the data home, secret files), is skipped with a
reason, as are files over the size limit. git runs hardened (see
``codeweaver.index.git``): a repository's config never makes it run a command.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codeweaver.errors import PathError
from codeweaver.index.confined import read_inside
from codeweaver.index.git import run_git
from codeweaver.index.ignore import Ignorer, exclude_rules

__all__ = ["Discovered", "DiscoveredFile", "collect", "discover", "git_commit", "resolve_root"]

VCS_FOLDERS = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True, slots=True)
class DiscoveredFile:
    path: str  # project-relative, posix
    abs_path: Path
    size: int
    mtime_ns: int
    root: Path  # the resolved project root: the file is read only from inside it

    def read_bytes(self, max_bytes: int | None = None) -> bytes:
        """The file's bytes, read without leaving the root (see ``confined``)."""
        return read_inside(self.root, self.path, max_bytes)


@dataclass(slots=True)
class Discovered:
    files: list[DiscoveredFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    via_git: bool = False


def resolve_root(path: str | Path) -> Path:
    """The absolute project root, or a one-line PathError."""
    raw = Path(path).expanduser()
    if not raw.exists():
        raise PathError(f"path does not exist: {path}")
    if not raw.is_dir():
        raise PathError(f"not a folder: {path} (index a project folder, not a file)")
    if not os.access(raw, os.R_OK | os.X_OK):
        raise PathError(f"folder is not readable: {path}")
    return raw.resolve()


def _git(root: Path, *args: str) -> str | None:
    return run_git(root, args)


def git_commit(root: Path) -> str | None:
    """The HEAD commit of the repo containing ``root``, if any."""
    out = _git(root, "rev-parse", "HEAD")
    return out.strip() if out else None


def _git_paths(root: Path) -> list[str] | None:
    if _git(root, "rev-parse", "--is-inside-work-tree") is None:
        return None
    out = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if out is None:
        return None
    return sorted({p for p in out.split("\0") if p})


def _walk_paths(root: Path, ignorer: Ignorer) -> list[str]:
    """The files under ``root`` that ``ignorer`` keeps; ignored folders are not entered."""
    paths: list[str] = []
    stack: list[tuple[Path, list[str]]] = [(root, [])]
    while stack:
        folder, parts = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            here = [*parts, entry.name]
            is_dir = entry.is_dir(follow_symlinks=False)
            if entry.name in VCS_FOLDERS or ignorer.skips_entry(here, is_dir):
                continue
            if is_dir:
                stack.append((Path(entry.path), here))
            else:
                paths.append("/".join(here))
    return sorted(paths)


def _classify(
    root: Path, real_root: Path, rel: str, max_bytes: int, protected: Sequence[Path]
) -> tuple[DiscoveredFile | None, str | None]:
    abs_path = root / rel
    try:
        real = abs_path.resolve()
    except (OSError, RuntimeError) as exc:
        return None, f"cannot resolve: {exc}"
    if real != real_root and real_root not in real.parents:
        return None, "a symlink on its path leaves the project root"
    if any(real == guard or guard in real.parents for guard in protected):
        return None, "inside CodeWeaver's data or secret location (never indexed)"
    try:
        st = abs_path.stat()
    except OSError as exc:
        return None, f"cannot stat: {exc.strerror or exc}"
    if not abs_path.is_file():
        return None, None  # submodule folders, sockets … are not files to index
    if st.st_size > max_bytes:
        return None, f"larger than {max_bytes} bytes ({st.st_size})"
    return DiscoveredFile(rel, abs_path, st.st_size, st.st_mtime_ns, real_root), None


def discover(
    root: Path,
    *,
    max_bytes: int = 1_048_576,
    exclude: list[str] | None = None,
    use_git: bool = True,
    protected: Sequence[Path] = (),
) -> Discovered:
    """List the indexable files under ``root`` (already resolved by ``resolve_root``),
    never one inside ``protected`` (resolved paths)."""
    excludes = exclude_rules(exclude or [])
    git_paths = _git_paths(root) if use_git else None
    if git_paths is None:
        kept: Iterable[str] = _walk_paths(root, Ignorer(root, excludes))
    else:
        ignorer = Ignorer(root, excludes, gitignore=False)
        kept = (rel for rel in git_paths if not ignorer.skips(rel, False))
    return collect(root, kept, max_bytes, git_paths is not None, protected)


def collect(
    root: Path,
    rels: Iterable[str],
    max_bytes: int,
    via_git: bool,
    protected: Sequence[Path] = (),
) -> Discovered:
    """Classify candidate paths into files to index and skipped files with reasons."""
    result = Discovered(via_git=via_git)
    real_root = root.resolve()
    for rel in rels:
        found, reason = _classify(root, real_root, rel, max_bytes, protected)
        if found is not None:
            result.files.append(found)
        elif reason is not None:
            result.skipped.append((rel, reason))
    return result
