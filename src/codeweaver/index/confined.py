"""Files that must stay inside a root: resolving them, and reading them without a race.

``inside`` answers whether a project-relative path, with every symlink along it
resolved, still lies inside the (resolved) root. ``read_inside`` reads such a file by
walking its *resolved* path from an open handle of the root, one component at a time,
refusing to follow any symlink (``O_NOFOLLOW``): a folder or file swapped for a link
after it was checked cannot redirect the read outside the root. Only regular files are
read (never a FIFO or a device), and no more than ``max_bytes``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

__all__ = ["Escape", "inside", "protected_hit", "read_inside", "real_relative"]

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FILE_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class Escape(OSError):
    """The path leaves its root, or is not a regular file reachable without a symlink;
    the message completes "file X …"."""


def real_relative(root: Path, rel: str) -> str | None:
    """``rel`` (under the resolved ``root``) with every symlink resolved, as a path
    relative to ``root``; None when it resolves outside ``root`` or cannot be resolved."""
    try:
        real = (root / rel).resolve()
        return real.relative_to(root).as_posix()
    except (OSError, RuntimeError, ValueError):
        return None


def inside(root: Path, path: Path) -> bool:
    """Whether ``path`` resolves (symlinks included) to ``root`` or below it."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return real == root or root in real.parents


def protected_hit(path: Path, protected: Iterable[Path]) -> Path | None:
    """The protected location ``path`` (resolved) is, or lies inside; else None."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    for guard in protected:
        if real == guard or guard in real.parents:
            return guard
    return None


def _open_parts(root: Path, parts: list[str]) -> int:
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        last = os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
    except OSError:
        os.close(fd)
        raise
    os.close(fd)
    return last


def read_inside(
    root: Path, rel: str, max_bytes: int | None = None, *, truncate: bool = False
) -> bytes:
    """The bytes of ``root/rel``, read only if it resolves to a regular file inside the
    resolved ``root`` and no component on the way is swapped for a symlink meanwhile.

    Raises ``Escape`` for a path that leaves ``root`` (or races to), ``OSError`` when
    it cannot be read, ``ValueError`` when it is larger than ``max_bytes`` (with
    ``truncate``, its first ``max_bytes`` are returned instead)."""
    real = real_relative(root, rel)
    if real is None or real in ("", "."):
        raise Escape("resolves outside the project root")
    try:
        fd = _open_parts(root, real.split("/"))
    except OSError as exc:
        if exc.errno in (getattr(os, "ELOOP", -1), getattr(os, "ENOTDIR", -1)):
            raise Escape("resolves outside the project root (a link appeared on its path)") from exc
        raise
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise Escape("is not a regular file")
        if max_bytes is not None and truncate:
            return fh.read(max_bytes)
        if max_bytes is not None and st.st_size > max_bytes:
            raise ValueError(f"larger than {max_bytes} bytes ({st.st_size})")
        data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:
        raise ValueError(f"larger than {max_bytes} bytes (it grew while being read)")
    return data
