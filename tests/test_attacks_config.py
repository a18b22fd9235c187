"""Attacks through settings sources, path globs and outgoing requests, against real
``codeweaver`` processes: the CLI, ``codeweaver mcp`` over stdio (the SDK's client) and
``codeweaver serve`` (tests/attack_server.py) over HTTP and MCP.

- A ``codeweaver.toml`` planted in an untrusted checkout cannot point the embedder (or
  anything else that leaves the machine) elsewhere: ``codeweaver index`` and
  ``codeweaver mcp`` started there refuse it in one line and never contact its server.
- A path glob built to backtrack answers at once over HTTP and MCP; one too long is
  refused the same way on both.
- A bearer token given to doctor, the performance report or the metrics export never
  follows a redirect to another origin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from attack_server import OUTSIDE, Server, attack_server, index_project
from codeweaver.adapters import http_get
from codeweaver.core.pathglob import MAX_GLOB_CHARS

CLI = [sys.executable, "-m", "codeweaver.cli.app"]
TOKEN = "cw-operator-token-0123456789abcdef"
UNDERSCORES = "_" * 64 + ".py"
PATHOLOGICAL = "*_*_*_*_*_*_*_*q"  # 8 stars: minutes of backtracking for the old matcher

Answer = Callable[[str], tuple[int, dict[str, str], bytes]]


class Recorder:
    """A loopback HTTP server that records every request's path and headers."""

    def __init__(self, answer: Answer) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                recorder.requests.append(
                    (self.path, {k.lower(): v for k, v in self.headers.items()})
                )
                status, extra, body = answer(self.path)
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **extra}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _any

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def auth_headers(self) -> list[str]:
        return [h["authorization"] for _, h in self.requests if "authorization" in h]


@contextmanager
def recording(answer: Answer) -> Iterator[Recorder]:
    rec = Recorder(answer)
    try:
        yield rec
    finally:
        rec.close()


def _json(status: int, body: object) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CODEWEAVER_HOME": str(tmp / "home"),
        "XDG_CONFIG_HOME": str(tmp / "xdg"),
        "PYTHONPATH": os.pathsep.join(sys.path),
        **extra,
    }


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# --- 9: a codeweaver.toml planted in the working directory ------------------------------


@pytest.fixture
def embedder_trap() -> Iterator[Recorder]:
    """The attacker's 'embedding API': it would receive every chunk sent to it."""
    with recording(lambda path: _json(400, {"error": {"message": "thanks for the code"}})) as rec:
        yield rec


@pytest.fixture
def checkout(tmp_path: Path, embedder_trap: Recorder) -> Path:
    """An untrusted checkout whose codeweaver.toml sends embeddings to the attacker."""
    root = tmp_path / "checkout"
    root.mkdir()
    (root / "app.py").write_text("def secret_algorithm():\n    return 42\n")
    (root / "codeweaver.toml").write_text(
        f'[embedding]\nbase_url = "{embedder_trap.url}/v1"\nprovider = "openai"\n'
        'api_key = "sk-planted"\ndimensions = 384\nmax_retries = 0\n'
        "outage_wait_seconds = 0\n"
        '[index]\nexclude = ["build/"]\n'
    )
    return root


def test_index_in_a_checkout_refuses_its_endpoint_and_never_calls_it(
    tmp_path, checkout, embedder_trap
):
    res = subprocess.run(
        [*CLI, "index", "."], cwd=checkout, env=_env(tmp_path),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 2, res.stdout + res.stderr
    line = _one_line(res.stderr)
    assert "may not set 'embedding.base_url'" in line
    assert f"--config {checkout / 'codeweaver.toml'}" in line
    assert "CODEWEAVER_EMBEDDING__BASE_URL" in line
    assert embedder_trap.requests == []
    assert not (tmp_path / "home" / "projects").exists()

    # the same file passed on purpose is trusted: the trap is real and would be reached
    trusted = subprocess.run(
        [*CLI, "index", ".", "--config", "codeweaver.toml"], cwd=checkout,
        env=_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert trusted.returncode != 0 and embedder_trap.requests, trusted.stderr


def test_home_and_backup_destination_are_refused_from_a_checkout(tmp_path):
    root = tmp_path / "checkout"
    root.mkdir()
    for text, key in (
        (f'home = "{tmp_path / "stolen"}"\n', "home"),
        (f'[backup]\ndest = "{(tmp_path / "loot").as_uri()}"\n', "backup.dest"),
        ('[auth]\nsecret = "attacker-chosen-secret-0123456789abc"\n', "auth.secret"),
    ):
        (root / "codeweaver.toml").write_text(text)
        res = subprocess.run(
            [*CLI, "backup", "create"], cwd=root, env=_env(tmp_path),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert res.returncode == 2, res.stdout + res.stderr
        assert f"may not set '{key}'" in _one_line(res.stderr)
    assert not (tmp_path / "stolen").exists() and not (tmp_path / "loot").exists()


async def _agent_in(checkout: Path, env: dict[str, str], errlog: Path) -> str:
    """What an agent gets from ``codeweaver mcp`` started in ``checkout``."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "codeweaver.cli.app", "mcp"], env=env, cwd=checkout
    )
    with errlog.open("w") as err, anyio.fail_after(90):
        try:
            async with (
                stdio_client(params, errlog=err) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                result = await session.call_tool("index_codebase", {"path": str(checkout)})
                return "indexed: " + result.content[0].text
        except Exception as exc:  # the server refused to start: the session is closed
            return f"refused: {type(exc).__name__}"


def test_mcp_started_in_a_checkout_never_contacts_its_endpoint(tmp_path, checkout, embedder_trap):
    errlog = tmp_path / "mcp.err"
    outcome = anyio.run(_agent_in, checkout, _env(tmp_path), errlog)
    assert outcome.startswith("refused"), outcome
    line = _one_line(errlog.read_text())
    assert "may not set 'embedding.base_url'" in line and "--config" in line
    assert embedder_trap.requests == []


# --- 7: path globs that backtrack --------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with attack_server(tmp_path_factory.mktemp("attack-config")) as srv:
        (srv.acme / UNDERSCORES).write_text("def underscored_helper():\n    return 'u'\n")  # type: ignore[attr-defined]
        index_project(srv, "am", srv.acme, "acme")  # type: ignore[attr-defined]
        yield srv


def _invalid(r: httpx.Response) -> str:
    assert r.status_code == 422, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == "invalid_input", body
    for leak in ("upload_with_retry", "underscored_helper", OUTSIDE.strip()):
        assert leak not in r.text
    return str(body["error"]["message"])


def _search(srv: Server, path: str) -> tuple[httpx.Response, float]:
    body = {"query": "helper", "project": "acme", "path": path}
    started = time.perf_counter()
    r = srv.client.post("/api/v1/search", json=body, headers=srv.auth("alice"), timeout=20)
    return r, time.perf_counter() - started


def test_backtracking_glob_over_http_answers_at_once(server):
    warm, _ = _search(server, "*.py")
    assert warm.status_code == 200, warm.text
    r, took = _search(server, PATHOLOGICAL)
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [] and took < 1.0, took
    r, took = _search(server, PATHOLOGICAL.replace("q", "y"))  # the same shape, matching
    assert [h["path"] for h in r.json()["results"]] == [UNDERSCORES] and took < 1.0, took
    r, _ = _search(server, "*_" * 200 + "*q")  # 401 stars, still within the length bound
    assert r.status_code == 200 and r.json()["results"] == [], r.text
    assert server.audit(event="data.access", user="alice", project="acme")


def test_glob_over_the_length_bound_is_refused_over_http(server):
    r, _ = _search(server, "*_" * (MAX_GLOB_CHARS // 2) + "*q")
    message = _invalid(r)
    assert message.startswith("path") and f"at most {MAX_GLOB_CHARS}" in message, message
    r, _ = _search(server, "src/[ab")
    assert "'[' is never closed" in _invalid(r)


async def _mcp_globs(srv: Server) -> list[tuple[Any, float]]:
    client = httpx.AsyncClient(headers=srv.auth("alice"), timeout=60)
    out = []
    async with (
        client,
        streamable_http_client(f"{srv.base}/mcp", http_client=client) as (read, write),
        ClientSession(read, write) as s,
    ):
        await s.initialize()
        for path in ("*.py", PATHOLOGICAL, PATHOLOGICAL.replace("q", "y"), "x" * 600, "[ab"):
            started = time.perf_counter()
            args = {"query": "helper", "project": "acme", "path": path}
            with anyio.fail_after(20):
                result = await s.call_tool("search_code", args)
            out.append((result, time.perf_counter() - started))
    return out


def test_backtracking_glob_over_mcp_answers_at_once_and_bounds_match_http(server):
    _, (miss, took), (hit, took2), (long, _), (bad, _) = anyio.run(_mcp_globs, server)
    assert not miss.is_error and miss.structured_content["results"] == [] and took < 1.0
    assert not hit.is_error and took2 < 1.0
    assert [r["location"].split(":")[0] for r in hit.structured_content["results"]] == [UNDERSCORES]
    text = long.content[0].text
    assert long.is_error and "invalid argument 'path'" in text, text
    assert f"at most {MAX_GLOB_CHARS} characters" in text and "Traceback" not in text
    assert bad.is_error and "'[' is never closed" in bad.content[0].text


# --- 17: bearer tokens and redirects to another origin -----------------------------------


def _sink_answer(path: str) -> tuple[int, dict[str, str], bytes]:
    if path.startswith("/api/v1/query"):
        return _json(200, {"status": "success", "data": {"resultType": "matrix", "result": []}})
    if path.startswith("/metrics"):
        return 200, {"Content-Type": "text/plain"}, b"codeweaver_requests_total 1\n"
    return _json(200, {"status": "ok"})


@pytest.fixture
def hop_to_sink() -> Iterator[tuple[Recorder, Recorder]]:
    """``hop`` (the URL the operator gave) redirects every request to ``sink``, another
    origin, which records what reaches it."""
    with (
        recording(_sink_answer) as sink,
        recording(lambda path: (302, {"Location": sink.url + path}, b"")) as hop,
    ):
        yield hop, sink


def _no_token_followed(hop: Recorder, sink: Recorder) -> None:
    assert hop.auth_headers() and set(hop.auth_headers()) == {f"Bearer {TOKEN}"}
    assert sink.requests, "the redirect was not followed"
    assert sink.auth_headers() == [], sink.requests
    assert not any(TOKEN in json.dumps(headers) for _, headers in sink.requests)


def test_doctor_token_stays_with_its_origin(tmp_path, hop_to_sink):
    hop, sink = hop_to_sink
    res = subprocess.run(
        [*CLI, "doctor", "--url", hop.url, "--token", TOKEN, "--json", "--timeout", "5"],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode in (0, 1, 3) and "Traceback" not in res.stderr, res.stderr
    _no_token_followed(hop, sink)


def test_performance_report_token_stays_with_its_origin(tmp_path, hop_to_sink):
    hop, sink = hop_to_sink
    res = subprocess.run(
        [*CLI, "report", "performance", "--url", hop.url, "--token", TOKEN],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "Traceback" not in res.stderr, res.stderr
    assert [p for p, _ in sink.requests] == ["/metrics"]
    _no_token_followed(hop, sink)


def test_metrics_export_token_stays_with_its_origin(tmp_path, hop_to_sink):
    hop, sink = hop_to_sink
    env = _env(
        tmp_path,
        CODEWEAVER_BACKUP__PROMETHEUS_URL=hop.url,
        CODEWEAVER_BACKUP__PROMETHEUS_TOKEN=TOKEN,
    )
    dest = (tmp_path / "vault").as_uri()
    res = subprocess.run(
        [*CLI, "backup", "create", "--dest", dest, "-c", "settings,metrics", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "metrics" in json.loads(res.stdout)["components"]
    assert all(p.startswith("/api/v1/query_range") for p, _ in sink.requests)
    _no_token_followed(hop, sink)
    assert TOKEN not in res.stdout


def test_same_origin_redirects_keep_the_token_and_other_schemes_are_refused():
    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        if path == "/old":
            return 301, {"Location": "/new"}, b""
        if path == "/ftp":
            return 302, {"Location": "ftp://127.0.0.1:9/x"}, b"moved"
        return _json(200, {"ok": True})

    with recording(answer) as same:
        assert http_get.get(f"{same.url}/old", token=TOKEN).json() == {"ok": True}
        assert [p for p, _ in same.requests] == ["/old", "/new"]
        assert same.auth_headers() == [f"Bearer {TOKEN}"] * 2
        refused = http_get.get(f"{same.url}/ftp", token=TOKEN)
        assert refused.status == 302 and refused.body == b"moved"
