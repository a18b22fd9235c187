"""``codeweaver mcp`` end to end: the MCP SDK's own client over stdio, real model and store."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from codeweaver.mcp import tool_names

README = Path(__file__).resolve().parents[1] / "README.md"

PY = '''"""Upload helpers."""
import time


class Uploader:
    """Sends files to the bucket."""

    def upload_with_retry(self, path, attempts=3):
        for attempt in range(attempts):
            try:
                return self.client.put(path)
            except ConnectionError:
                time.sleep(2 ** attempt)
        raise RuntimeError("upload failed")


def parse_config(text):
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values
'''

GO = """package server

type Server struct { port int }

func (s *Server) Start() error {
    return listen(s.port)
}

func listen(port int) error { return nil }
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg/upload.py").write_text(PY)
    (root / "server.go").write_text(GO)
    (root / "README.md").write_text("# Shop\n\nA tiny shop.\n")
    (tmp_path / "secret.txt").write_text("do not serve\n")
    return root


class Client:
    def __init__(self, session: ClientSession) -> None:
        self.session = session

    async def ok(self, name: str, **args: Any) -> dict[str, Any]:
        result = await self.session.call_tool(name, args)
        text = result.content[0].text
        assert not result.is_error, text
        assert json.loads(text) == result.structured_content
        return result.structured_content

    async def error(self, name: str, **args: Any) -> str:
        result = await self.session.call_tool(name, args)
        assert result.is_error, result
        text = result.content[0].text
        assert len(text.splitlines()) == 1 and "Traceback" not in text, text
        return text


async def _scenario(home: Path, shop: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "codeweaver.cli.app", "mcp"],
        env={
            "CODEWEAVER_HOME": str(home),
            "CODEWEAVER_OWNER__IDLE_TIMEOUT_SECONDS": "2",  # its background owner exits soon
            "PYTHONPATH": os.pathsep.join(sys.path),
        },
        cwd=str(home.parent),
    )
    with open(os.devnull, "w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await _exercise(Client(session), shop)


async def _exercise(c: Client, shop: Path) -> None:
    listed = await c.session.list_tools()
    assert [t.name for t in listed.tools] == tool_names()
    assert all(t.description and len(t.description) > 80 for t in listed.tools)

    assert (await c.ok("list_projects"))["projects"] == []
    assert "no projects indexed yet" in await c.error("search_code", query="upload")

    stats = await c.ok("index_codebase", path=str(shop))
    assert stats["project"] == "shop" and stats["files_total"] == 3
    assert stats["failures"] == []

    found = await c.ok("search_code", query="retry a failed upload", limit=5)
    top = found["results"][0]
    path, _, lines = top["location"].partition(":")
    start, end = map(int, lines.split("-"))
    assert path == "pkg/upload.py" and start <= 8 and end >= 14, top
    assert top["symbol"].startswith("Uploader") and top["kind"] in {"class", "method"}
    assert "time.sleep" in top["snippet"] and isinstance(top["score"], float)

    go = await c.ok("search_code", query="Start", language="go", project="shop")
    assert go["results"][0]["symbol"] == "Server.Start"
    assert {r["language"] for r in go["results"]} == {"go"}

    small = await c.ok("search_code", query="parse_config", limit=10, max_tokens=60)
    assert len(json.dumps(small["results"])) // 4 <= 80
    assert small["omitted_for_budget"] >= 1

    code = await c.ok("get_code", project="shop", path="pkg/upload.py", start_line=17, end_line=18)
    assert code["content"] == "def parse_config(text):\n    values = {}"
    assert code["total_lines"] == 22
    whole = await c.ok("get_code", project="shop", path="server.go")
    assert whole["content"].startswith("package server") and whole["end_line"] == 9

    matches = await c.ok("structural_search", pattern="time.sleep($X)", language="python")
    assert [m["location"] for m in matches["matches"]] == ["pkg/upload.py:13-13"]
    go_pattern = "func $NAME($$$A) error { $$$B }"
    funcs = await c.ok("structural_search", pattern=go_pattern, language="go")
    assert [m["start_line"] for m in funcs["matches"]] == [9]

    status = await c.ok("index_status", project="shop")
    assert status["files"] == 3 and status["state"] == "complete"
    assert [p["project"] for p in (await c.ok("list_projects"))["projects"]] == ["shop"]
    langs = {x["name"]: x for x in (await c.ok("list_languages"))["languages"]}
    assert langs["python"]["structural_search"] and langs["python"]["chunking"] == "definitions"
    assert not langs["text"]["structural_search"]

    await _errors(c)


async def _errors(c: Client) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("index_status", {"project": "nope"}, "unknown project 'nope'"),
        ("search_code", {"query": "x", "project": "nope"}, "unknown project 'nope'"),
        ("search_code", {"query": ""}, "query is empty"),
        ("search_code", {"query": "upload", "limit": 0}, "between 1 and 100"),
        ("search_code", {"query": "upload", "max_tokens": 0}, "max_tokens must be at least 1"),
        ("search_code", {"query": "upload", "limit": "many"}, "invalid argument 'limit'"),
        ("search_code", {}, "invalid argument 'query'"),
        ("get_code", {"project": "shop", "path": "../secret.txt"}, "must not contain '..'"),
        ("get_code", {"project": "shop", "path": "/etc/passwd"}, "must be relative"),
        ("get_code", {"project": "shop", "path": "nope.py"}, "is not indexed"),
        ("get_code", {"project": "shop", "path": "server.go", "start_line": 50}, "past the end"),
        ("structural_search", {"pattern": "x", "language": "cobol"}, "does not support"),
        ("structural_search", {"pattern": " ", "language": "python"}, "pattern is empty"),
        ("index_codebase", {"path": "/definitely/missing"}, "path does not exist"),
    ]
    for name, args, message in cases:
        text = await c.error(name, **args)
        assert message in text, (name, args, text)
        assert text.startswith(f"Error executing tool {name}: "), text


def test_stdio_server_end_to_end(tmp_path: Path, shop: Path) -> None:
    anyio.run(_scenario, tmp_path / "home", shop)


def test_readme_names_every_tool() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## MCP", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in tool_names() if f"`{name}(" not in section]
    assert not missing, f"README's MCP section does not name: {missing}"
