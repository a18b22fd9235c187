"""The streamable-HTTP MCP app mounted at /mcp under a parent app, served by uvicorn."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import uvicorn
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from starlette.applications import Starlette
from starlette.routing import Mount

from codeweaver.config import load_settings
from codeweaver.container import build_engine
from codeweaver.engine import Engine
from codeweaver.mcp import streamable_http_app, tool_names
from embedder_twin import HashEmbedder
from net_helpers import free_port as _free_port


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "util.py").write_text("def add_numbers(a, b):\n    return a + b\n")
    eng = build_engine(load_settings(home=tmp_path / "home"), embedder=HashEmbedder())
    eng.index(root)
    yield eng
    eng.close()


@pytest.fixture
def base_url(engine: Engine) -> Iterator[str]:
    mcp_app = streamable_http_app(engine)
    parent = Starlette(
        routes=[Mount("/mcp", app=mcp_app)],
        lifespan=lambda _app: mcp_app.router.lifespan_context(mcp_app),
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(parent, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    thread.join(timeout=10)


async def _session(url: str) -> None:
    async with (
        streamable_http_client(url) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        listed = await session.list_tools()
        assert [t.name for t in listed.tools] == tool_names()
        found = await session.call_tool("search_code", {"query": "add_numbers"})
        assert not found.is_error, found
        top = found.structured_content["results"][0]
        assert top["location"] == "util.py:1-2" and top["symbol"] == "add_numbers"
        bad = await session.call_tool("index_status", {"project": "nope"})
        assert bad.is_error and "unknown project 'nope'" in bad.content[0].text


def test_streamable_http_app_mounted_under_mcp(base_url: str) -> None:
    anyio.run(_session, base_url)
