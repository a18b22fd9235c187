"""One backup or restore at a time per data directory: a non-blocking file lock."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from codeweaver.backup.paths import private_dir
from codeweaver.errors import BackupError

__all__ = ["exclusive"]


@contextmanager
def exclusive(path: Path, what: str) -> Iterator[None]:
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"another {what} is running on this data directory") from None
        yield
    finally:
        os.close(fd)
