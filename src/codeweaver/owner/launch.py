"""Starting a background owner on demand, and waiting until it answers.

The owner is ``codeweaver daemon run`` in a new session (so a client's Ctrl-C or exit
does not reach it), with this client's data directory and settings file, its output
in ``run/owner.log``. Two clients starting one at once is harmless: the owner lock
lets one of them own the directory, the other exits and both clients connect to it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

from codeweaver.errors import IndexingError
from codeweaver.owner.client import OwnerClient, connect
from codeweaver.owner.locate import OwnerPaths

__all__ = ["ensure_owner", "spawn_daemon"]


def spawn_daemon(home: Path, config: Path | None) -> int:
    """Start ``codeweaver daemon run`` detached; its pid."""
    paths = OwnerPaths(home)
    paths.ensure_run_dir()
    argv = [sys.executable, "-m", "codeweaver.cli.app", "daemon", "run"]
    if config is not None:
        argv += ["--config", str(config.resolve())]
    env = {**os.environ, "CODEWEAVER_HOME": str(home)}
    log_fd = os.open(paths.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return os.posix_spawn(
            sys.executable,
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(log_fd)


def _exited(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        done, _status = os.waitpid(pid, os.WNOHANG)
        return done == pid
    return True


def _last_log_line(paths: OwnerPaths) -> str:
    try:
        lines = [ln for ln in paths.log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def ensure_owner(home: Path, config: Path | None, timeout: float) -> OwnerClient:
    """A client of ``home``'s owner, starting a background owner when none answers."""
    client = connect(home)
    if client is not None:
        return client
    pid = spawn_daemon(home, config)
    deadline = time.monotonic() + timeout
    gone = False
    while time.monotonic() < deadline:
        client = connect(home)
        if client is not None:
            return client
        if not gone and _exited(pid):
            gone = True  # another owner may still be starting: keep waiting for it
            deadline = min(deadline, time.monotonic() + 5)
        time.sleep(0.05)
    paths = OwnerPaths(home)
    why = _last_log_line(paths) or "no answer"
    raise IndexingError(f"could not start a CodeWeaver owner for {home}: {why} (see {paths.log})")
