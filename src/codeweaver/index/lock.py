"""One writer per project: an exclusive, non-blocking file lock held while indexing."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from codeweaver.errors import IndexingError

__all__ = ["HomeInUse", "home_exclusive", "private_home", "writer_lock"]

_IN_USE = "in-use.lock"


def private_home(home: Path) -> Path:
    """Create the data directory and its ``auth/`` folder as 0700 folders when missing:
    they hold the identity store, keys and secrets (an existing folder keeps its mode)."""
    for folder in (home, home / "auth"):
        if not folder.is_dir():
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.chmod(0o700)
    return home


@contextmanager
def writer_lock(folder: Path, project: str) -> Iterator[None]:
    """Hold ``folder/index.lock``; a second writer gets a clear error instead of waiting."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise IndexingError(
                f"project {project!r} is being indexed by another process (pid {holder}); "
                "try again when it finishes"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class HomeInUse:
    """A shared lock on ``<home>/in-use.lock`` held while an engine has the data directory
    open (``serve``, ``watch``, ``mcp``, any command); many holders may share it."""

    def __init__(self, home: Path) -> None:
        private_home(home)
        fd = os.open(home / _IN_USE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise IndexingError(
                f"a backup is being restored into {home}; try again when it finishes"
            ) from None
        self._fd: int | None = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


@contextmanager
def home_exclusive(home: Path, action: str) -> Iterator[None]:
    """Hold the data directory alone (no engine open on it) for ``action``, or fail at once
    with a clear error."""
    private_home(home)
    fd = os.open(home / _IN_USE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexingError(
                f"CodeWeaver is running on {home} (serve, watch, mcp or another command); "
                f"stop it before you {action}"
            ) from None
        yield
    finally:
        os.close(fd)
