"""The owner record (``run/owner.json``) and the owner lock (``run/owner.lock``).

The lock decides who owns a data directory: an exclusive ``flock`` held for the
owner's whole life (the kernel drops it when the process dies, so a crashed owner
never blocks the next one). The record tells clients who owns it: pid, socket,
version, kind and start time; it is written atomically (0600) once the socket
answers, and a record whose pid is dead, or whose lock is free, is stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import NamedTuple

from codeweaver.errors import IndexingError
from codeweaver.owner.locate import OwnerPaths

__all__ = ["OwnerLock", "OwnerRecord", "lock_is_held", "pid_alive", "read_record"]


class OwnerRecord(NamedTuple):
    pid: int
    socket: str
    version: str
    kind: str  # "serve" | "watch" | "daemon" | "cli" (a command running in-process)
    started_at: float
    home: str

    def write(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self._asdict(), fh)
        os.replace(tmp, path)


def read_record(paths: OwnerPaths) -> OwnerRecord | None:
    """The record, or None when there is none or it is unreadable."""
    try:
        data = json.loads(paths.record.read_text(encoding="utf-8"))
        return OwnerRecord(**{k: data[k] for k in OwnerRecord._fields})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill()
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def lock_is_held(paths: OwnerPaths) -> bool:
    """Whether some process holds the owner lock right now."""
    try:
        fd = os.open(paths.lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class OwnerLock:
    """The exclusive owner lock of a data directory, held until ``release``."""

    def __init__(self, paths: OwnerPaths) -> None:
        self._paths = paths
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        self._paths.ensure_run_dir()
        fd = os.open(self._paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        self.clear_stale()
        return True

    def acquire(self, timeout: float, what: str) -> None:
        """Wait up to ``timeout`` seconds for the lock, or fail with a clear error."""
        deadline = time.monotonic() + timeout
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                holder = read_record(self._paths)
                who = f"{holder.kind} (pid {holder.pid})" if holder else "another process"
                raise IndexingError(
                    f"{self._paths.home} is held by CodeWeaver {who}; {what} when it finishes"
                )
            time.sleep(0.05)

    def clear_stale(self) -> None:
        """With the lock held, whatever record and socket are left belong to a dead owner."""
        for path in (self._paths.record, self._paths.socket):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        record = read_record(self._paths)
        if record is not None and record.pid == os.getpid():
            self.clear_stale()
        os.close(fd)
