"""`codeweaver serve --watch` as a real process: the watched folder is indexed and kept
fresh, and a real MCP client talks to the `/mcp` endpoint of the same server."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import anyio
import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from codeweaver.mcp import tool_names
from test_serve_subprocess import free_port


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def top_symbol(base: str, query: str) -> str | None:
    try:
        r = httpx.post(f"{base}/api/v1/search", json={"query": query, "limit": 1}, timeout=10)
    except httpx.TransportError:
        return None  # not listening yet
    if r.status_code != 200 or not r.json()["results"]:
        return None
    return str(r.json()["results"][0]["symbol"])


async def mcp_session(url: str) -> None:
    async with (
        streamable_http_client(url) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        assert [t.name for t in (await session.list_tools()).tools] == tool_names()
        found = await session.call_tool("search_code", {"query": "compute_checksum"})
        assert not found.is_error, found
        assert found.structured_content["results"][0]["symbol"] == "compute_checksum"


def test_serve_watch_and_mcp_over_http(tmp_path):
    root = tmp_path / "watched"
    root.mkdir()
    (root / "a.py").write_text("def compute_checksum(data):\n    return sum(data) % 256\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CODEWEAVER_HOME": str(tmp_path / "home")}
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codeweaver.cli.app",
            "serve",
            "--port",
            str(port),
            "--watch",
            str(root),
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: top_symbol(base, "compute_checksum") == "compute_checksum")
        (root / "b.py").write_text("def rotate_api_keys(store):\n    store.rotate()\n")
        wait_for(lambda: top_symbol(base, "rotate_api_keys") == "rotate_api_keys")
        anyio.run(mcp_session, f"{base}/mcp")
        proc.terminate()
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
