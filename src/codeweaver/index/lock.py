"""One writer per project: an exclusive, non-blocking file lock held while indexing."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from codeweaver.errors import IndexingError

__all__ = ["writer_lock"]


@contextmanager
def writer_lock(folder: Path, project: str) -> Iterator[None]:
    """Hold ``folder/index.lock``; a second writer gets a clear error instead of waiting."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
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
