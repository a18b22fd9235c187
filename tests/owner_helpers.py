"""Real processes around one data directory: the CLI, ``serve``, owners, stdio MCP clients."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from net_helpers import free_port, wait_http

CLI = [sys.executable, "-m", "codeweaver.cli.app"]
BAD = ("Traceback", "WouldBlock", "Can't init WAL")


def env_for(home: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CODEWEAVER_HOME": str(home),
        "CODEWEAVER_OWNER__IDLE_TIMEOUT_SECONDS": "3",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def cli(
    home: Path, *args: str, timeout: float = 300, **extra: str
) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [*CLI, *args], env=env_for(home, **extra), capture_output=True, text=True, timeout=timeout
    )
    for bad in BAD:
        assert bad not in res.stderr, res.stderr
    return res


def ok_json(res: subprocess.CompletedProcess[str]) -> Any:
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def record(home: Path) -> dict[str, Any] | None:
    path = home / "run" / "owner.json"
    return json.loads(path.read_text()) if path.exists() else None


def wait_for(check: Any, timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not reaped, is not)."""
    from codeweaver.owner.record import pid_alive

    return pid_alive(pid)


def stop_owner(home: Path) -> None:
    cli(home, "daemon", "stop")


@contextmanager
def serve(home: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env_for(home),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/health/ready", proc, log, timeout=120)
        wait_for(lambda: (record(home) or {}).get("kind") == "serve", what="serve's record")
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def mcp_params(home: Path) -> StdioServerParameters:
    env = {
        "CODEWEAVER_HOME": str(home),
        "CODEWEAVER_OWNER__IDLE_TIMEOUT_SECONDS": "3",
        "PYTHONPATH": os.pathsep.join(sys.path),
        "PATH": os.environ.get("PATH", ""),
    }
    return StdioServerParameters(
        command=sys.executable, args=["-m", "codeweaver.cli.app", "mcp"], env=env
    )


@asynccontextmanager
async def mcp_sessions(home: Path, n: int, errlog: Path) -> AsyncIterator[list[ClientSession]]:
    """``n`` concurrent stdio MCP clients, each its own ``codeweaver mcp`` process."""
    async with AsyncExitStack() as stack:
        log = stack.enter_context(errlog.open("a"))
        sessions = []
        for _ in range(n):
            read, write = await stack.enter_async_context(
                stdio_client(mcp_params(home), errlog=log)
            )
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            sessions.append(session)
        yield sessions


async def tool(session: ClientSession, name: str, **args: Any) -> dict[str, Any]:
    result = await session.call_tool(name, args)
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, text
    return json.loads(text)  # type: ignore[no-any-return]
