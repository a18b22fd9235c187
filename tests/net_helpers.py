"""Loopback helpers for tests that start servers: a free port, and waiting for an answer."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str,
    proc: subprocess.Popen[bytes],
    log: Path,
    *,
    verify: object = True,
    timeout: float = 90.0,
    ok: tuple[int, ...] = (200,),
) -> None:
    """Until ``url`` answers one of ``ok``; fails with the server's log if it dies first."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, log.read_text(errors="replace")
        try:
            if httpx.get(url, timeout=2, verify=verify).status_code in ok:  # type: ignore[arg-type]
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} never answered"
        time.sleep(0.1)
