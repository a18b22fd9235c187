"""Attacks on the server's edge, against real server processes: DNS rebinding on the
no-auth loopback server, an app factory that does not know its bind address, the
metrics listener, other tenants' names in reports, someone else's MCP session, and a
flood of unauthenticated health checks.

Every refusal has the right status, the one error shape, no data, and (for a caller
the server could tell) an audit record; the same call made the right way is answered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from prometheus_client.parser import text_string_to_metric_families

from attack_server import (
    MCP_INITIALIZE,
    PASSWORD,
    SECRET,
    Server,
    attack_server,
    refused,
    stop,
)
from net_helpers import free_port, wait_http

MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
PROBE = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}


# ------------------------------------------------------------------ servers
@contextmanager
def _process(
    cmd: list[str], tmp: Path, env: dict[str, str], ready: str
) -> Iterator[subprocess.Popen[bytes]]:
    log = tmp / "server.log"
    out = log.open("wb")
    proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(ready, proc, log)
        yield proc
    finally:
        stop(proc)
        out.close()


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWEAVER_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return {
        **env,
        "CODEWEAVER_HOME": str(home),
        "CODEWEAVER_LOG_LEVEL": "info",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _serve(*args: str) -> list[str]:
    return [sys.executable, "-m", "codeweaver.cli.app", "serve", *args]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """``codeweaver serve`` in auth mode jwt, with the attack matrix's users."""
    with attack_server(tmp_path_factory.mktemp("edge-jwt")) as srv:
        admin = srv.admin()
        admin.add_user("aa", "admin", "acme", PASSWORD)  # an admin of one tenant only
        admin.store.db.close()
        yield srv


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> Iterator[Server]:
    """``codeweaver serve`` on loopback with authentication off (auth.mode auto)."""
    tmp = tmp_path_factory.mktemp("edge-none")
    port = free_port()
    srv = Server(f"http://127.0.0.1:{port}", tmp / "home", _env(tmp / "home"), tmp)
    project = tmp / "proj"
    project.mkdir()
    (project / "tool.py").write_text("def local_only_helper(x):\n    return x * 2\n")
    with _process(_serve("--port", str(port)), tmp, srv.env, f"{srv.base}/health/ready"):
        r = srv.client.post("/api/v1/index", json={"path": str(project), "project": "mine"})
        assert r.status_code == 202, r.text
        _wait_job(srv, r.json()["job_id"], {})
        srv.port = port  # type: ignore[attr-defined]
        try:
            yield srv
        finally:
            srv.client.close()


def _wait_job(srv: Server, job_id: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 90
    while srv.client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()["state"] not in (
        "succeeded",
        "failed",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)


# ------------------------------------------------------- 2. DNS rebinding (auth none)
FOREIGN_HOSTS = [
    "attacker.example.com",
    "localhost.attacker.example.com",
    "127.0.0.1.nip.io",
    "attacker.example.com#@127.0.0.1",
    "0.0.0.0",
    "192.0.2.2",
    "[::ffff:7f00:1]",
]
FOREIGN_ORIGINS = [
    "http://attacker.example.com",
    "http://localhost.attacker.example.com:8080",
    "null",
    "file://",
    "http://127.0.0.1@attacker.example.com",
]


def test_no_auth_server_refuses_foreign_host_names(local):
    for name in FOREIGN_HOSTS:
        host = f"{name}:{local.port}"  # type: ignore[attr-defined]
        r = local.client.get("/api/v1/projects", headers={"Host": host})
        refused(local, r, 421)
        assert "mine" not in r.text and "local_only_helper" not in r.text
        r = local.client.post(
            "/api/v1/search", json={"query": "local only helper"}, headers={"Host": host}
        )
        refused(local, r, 421)
        assert "local_only_helper" not in r.text
    # loopback names, with and without a port, are served
    for host in ("localhost", "LOCALHOST:1", "127.0.0.1", "127.8.9.10:80", "[::1]:8080"):
        r = local.client.get("/api/v1/projects", headers={"Host": host})
        assert r.status_code == 200 and r.json()["projects"][0]["project"] == "mine", host


def test_no_auth_server_refuses_foreign_origins(local):
    for origin in FOREIGN_ORIGINS:
        r = local.client.post(
            "/api/v1/search", json={"query": "local only helper"}, headers={"Origin": origin}
        )
        refused(local, r, 403)
        assert "local_only_helper" not in r.text
    for origin in ("http://localhost:5173", "http://127.0.0.1", "https://[::1]:3000"):
        r = local.client.post(
            "/api/v1/search", json={"query": "local only helper"}, headers={"Origin": origin}
        )
        assert r.status_code == 200 and r.json()["results"], origin


def test_no_auth_refusals_are_counted_and_logged(local):
    r = local.client.get("/api/v1/projects", headers={"Host": "rebind.example.com"})
    refused(local, r, 421)
    text = local.client.get("/metrics").text
    counted = [
        s
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == "codeweaver_requests_total" and s.labels["status"] == "421"
    ]
    assert counted and sum(s.value for s in counted) >= 1
    record = local.audit(r.headers["x-request-id"], event="authz.denied")[0]
    assert record["reason"].startswith("421") and record["route"] == "GET /api/v1/projects"
    lines = (local.tmp / "server.log").read_text().splitlines()
    access = [json.loads(x) for x in lines if '"logger": "codeweaver.access"' in x]
    mine = [a for a in access if a["request_id"] == r.headers["x-request-id"]]
    assert mine and mine[0]["status"] == 421 and mine[0]["user"] == "anonymous"


async def _mcp_tools(url: str, headers: dict[str, str]) -> list[str]:
    client = httpx.AsyncClient(headers=headers, timeout=60)
    async with (
        client,
        streamable_http_client(url, http_client=client) as (read, write),
        ClientSession(read, write) as s,
    ):
        await s.initialize()
        return [t.name for t in (await s.list_tools()).tools]


def test_no_auth_mcp_refuses_rebinding(local):
    for headers in ({"Host": "attacker.example.com"}, {"Origin": "http://attacker.example.com"}):
        r = local.client.post("/mcp/", json=MCP_INITIALIZE, headers={**MCP_HEADERS, **headers})
        refused(local, r, 421 if "Host" in headers else 403)
        assert "mcp-session-id" not in r.headers
    # the SDK client on loopback still gets a session and the tools
    tools = anyio.run(_mcp_tools, f"{local.base}/mcp", {})
    assert "search_code" in tools
    tools = anyio.run(_mcp_tools, f"{local.base}/mcp", {"Origin": "http://localhost:6274"})
    assert "search_code" in tools


# --------------------------------------------- 8. an app factory without its bind address
FACTORY = """
from codeweaver.api import create_app
from codeweaver.config import load_settings


def app():
    return create_app(load_settings())
"""


def test_app_factory_without_bind_address_requires_authentication(tmp_path):
    (tmp_path / "edge_factory.py").write_text(FACTORY)
    port = free_port()
    env = _env(tmp_path / "home", CODEWEAVER_AUTH__SECRET=SECRET)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "uvicorn", "edge_factory:app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with _process(cmd, tmp_path, env, f"{base}/health/ready"):
        srv = Server(base, tmp_path / "home", env, tmp_path)
        try:
            refused(srv, srv.client.get("/api/v1/projects"), 401)
            r = srv.client.post("/mcp/", json=MCP_INITIALIZE, headers=MCP_HEADERS)
            refused(srv, r, 401)
            assert srv.client.get("/health/live").status_code == 200
        finally:
            srv.client.close()


def test_app_factory_with_explicit_none_mode_and_no_bind_address_does_not_start(tmp_path):
    (tmp_path / "edge_factory.py").write_text(FACTORY)
    env = _env(tmp_path / "home", CODEWEAVER_AUTH__MODE="none")
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "uvicorn", "edge_factory:app", "--factory",
           "--port", str(free_port())]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "only allowed on a loopback address" in done.stdout + done.stderr


# ------------------------------------------------------ 10. the metrics listener
def _listening(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp) of sockets listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # LISTEN
                found.add(address)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs /proc/net/tcp")
def test_metrics_listener_is_loopback_when_serving_every_interface(tmp_path):
    port, metrics_port = free_port(), free_port()
    env = _env(
        tmp_path / "home",
        CODEWEAVER_AUTH__SECRET=SECRET,
        CODEWEAVER_OBSERVABILITY__METRICS_PORT=str(metrics_port),
    )
    cmd = _serve("--host", "0.0.0.0", "--port", str(port))
    with _process(cmd, tmp_path, env, f"http://127.0.0.1:{port}/health/ready"):
        assert _listening(port) == {"00000000"}  # the API: every interface, with auth
        assert _listening(metrics_port) == {"0100007F"}  # metrics: 127.0.0.1 only
        r = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        assert r.status_code == 200 and "codeweaver_service_info" in r.text
        api = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert api.status_code == 401


# ------------------------------------------------- 11. other tenants' names in reports
def _search(server: Server, user: str, query: str, project: str) -> None:
    r = server.client.post(
        "/api/v1/search", json={"query": query, "project": project}, headers=server.auth(user)
    )
    assert r.status_code == 200, r.text


def test_metrics_show_a_manager_only_their_tenant(server):
    _search(server, "mallory", "ledger total", "globex")
    _search(server, "alice", "retry upload", "acme")
    text = server.client.get("/metrics", headers=server.auth("am")).text
    assert 'project="acme"' in text and 'tenant_id="acme"' in text
    for leak in ('project="globex"', 'collection="globex"', 'tenant_id="globex"', "globex"):
        assert leak not in text, leak
    assert "codeweaver_service_info" in text and "codeweaver_search_latency_seconds" in text
    text = server.client.get("/metrics", headers=server.auth("gm")).text
    assert 'project="globex"' in text and "acme" not in text


def test_api_health_counts_only_the_callers_projects(server):
    for user, tenant in (("mallory", "globex"), ("alice", "acme")):
        r = server.client.get("/api/v1/health", headers=server.auth(user))
        assert r.status_code == 200, r.text
        comp = r.json()["components"]
        mine = server.client.get(f"/api/v1/projects/{tenant}", headers=server.auth(user)).json()
        assert comp["vector_store"]["detail"] == f"1 projects, {mine['points']} points"
        assert comp["index_freshness"]["detail"] == "1 projects up to date"
        other = "acme" if tenant == "globex" else "globex"
        assert other not in r.text


def test_cache_report_of_a_one_tenant_admin_holds_only_that_tenant(server):
    _search(server, "mallory", "globex private ledger question", "globex")
    _search(server, "alice", "acme upload retry question", "acme")
    r = server.client.get("/api/v1/cache", headers=server.auth("aa"))
    assert r.status_code == 200, r.text
    popular = r.json()["popular"]
    assert set(popular) == {"acme"}
    assert "acme upload retry question" in [q["query"] for q in popular["acme"]]
    assert "globex" not in r.text
    # a caller without cache:read is still refused
    refused(server, server.client.get("/api/v1/cache", headers=server.auth("am")), 403)


def test_debug_memory_of_a_one_tenant_admin_lists_only_that_tenant(server, local):
    r = server.client.get(
        "/api/v1/debug/memory", params={"seconds": 0, "top": 1}, headers=server.auth("aa")
    )
    assert r.status_code == 200, r.text
    assert [i["project"] for i in r.json()["indexes"]] == ["acme"]
    assert "globex" not in r.text
    # a caller of every tenant ("*": the local user) still sees everything
    local.client.post("/api/v1/search", json={"query": "local helper twice"})
    cache = local.client.get("/api/v1/cache").json()
    assert "local helper twice" in [q["query"] for q in cache["popular"]["mine"]]
    memory = local.client.get("/api/v1/debug/memory", params={"seconds": 0}).json()
    assert [i["project"] for i in memory["indexes"]] == ["mine"]
    health = local.client.get("/api/v1/health").json()["components"]
    assert health["vector_store"]["detail"].startswith("1 projects")
    assert 'project="mine"' in local.client.get("/metrics").text


# ------------------------------------------------------ 16. someone else's MCP session
def _open_session(server: Server, headers: dict[str, str]) -> str:
    r = server.client.post("/mcp/", json=MCP_INITIALIZE, headers={**MCP_HEADERS, **headers})
    assert r.status_code == 200, r.text
    session = r.headers["mcp-session-id"]
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    r = server.client.post("/mcp/", json=note, headers=_in(session, headers))
    assert r.status_code == 202, r.text
    return session


def _in(session: str, headers: dict[str, str]) -> dict[str, str]:
    return {
        **MCP_HEADERS,
        **headers,
        "mcp-session-id": session,
        "mcp-protocol-version": "2025-06-18",
    }


def _probe(server: Server, session: str, headers: dict[str, str]) -> httpx.Response:
    return server.client.post("/mcp/", json=PROBE, headers=_in(session, headers))


def _get_stream_status(server: Server, session: str, headers: dict[str, str]) -> Any:
    with server.client.stream("GET", "/mcp/", headers=_in(session, headers), timeout=10) as r:
        if r.status_code != 200:
            r.read()
        return r


def test_mcp_session_answers_only_its_owner(server):
    alice = server.auth("alice")
    session = _open_session(server, alice)
    assert "search_code" in _probe(server, session, alice).text
    for intruder in ("mallory", "ro"):
        headers = server.auth(intruder)
        refused(server, _probe(server, session, headers), 404)
        refused(server, _get_stream_status(server, session, headers), 404)
        r = server.client.delete("/mcp/", headers=_in(session, headers))
        refused(server, r, 404)
        record = server.audit(r.headers["x-request-id"], event="authz.denied")[0]
        assert record["user"] == intruder and record["route"] == "DELETE /mcp/"
    # the owner's session survived every attempt, and the owner can end it
    assert "search_code" in _probe(server, session, alice).text
    assert server.client.delete("/mcp/", headers=_in(session, alice)).status_code == 200
    refused(server, _probe(server, session, alice), 404)


def test_mcp_session_is_bound_to_how_its_owner_authenticated(server):
    by_key = {"Authorization": f"Bearer {server.keys['good']}"}
    session = _open_session(server, by_key)
    assert "search_code" in _probe(server, session, by_key).text
    r = server.client.post("/auth/token", json={"api_key": server.keys["good"]})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    server.secrets += [token, r.json()["refresh_token"]]
    by_token = {"Authorization": f"Bearer {token}"}  # the same user, signed in another way
    refused(server, _probe(server, session, by_token), 404)
    assert "search_code" in _probe(server, session, by_key).text


def test_mcp_session_follows_its_login_session_through_refresh(server):
    first = server.login("alice").json()
    server.secrets += [first["access_token"], first["refresh_token"]]
    session = _open_session(server, {"Authorization": f"Bearer {first['access_token']}"})
    r = server.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    refreshed = r.json()
    server.secrets += [refreshed["access_token"], refreshed["refresh_token"]]
    by_refreshed = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert "search_code" in _probe(server, session, by_refreshed).text  # same login session
    other = server.login("alice").json()  # the same user, signed in again elsewhere
    server.secrets += [other["access_token"], other["refresh_token"]]
    by_other = {"Authorization": f"Bearer {other['access_token']}"}
    refused(server, _probe(server, session, by_other), 404)


# --------------------------------------------------- 19. flooding the public /health
def _embedding_calls(server: Server) -> float:
    text = server.client.get("/metrics", headers=server.auth("am")).text
    return sum(
        s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == "codeweaver_embedding_requests_total"
    )


def test_public_health_is_cached(server):
    before = _embedding_calls(server)
    for _ in range(20):
        r = server.client.get("/health")
        assert r.status_code == 200 and r.json()["status"] in ("healthy", "degraded")
    # 20 full checks would embed 20 times; the cache (and the 5 s sampler) only a few
    assert _embedding_calls(server) - before <= 4


def test_public_health_is_rate_limited_per_address(server):
    transport = httpx.HTTPTransport(local_address="127.0.0.3")
    with httpx.Client(base_url=server.base, transport=transport, timeout=30) as flood:
        for _ in range(400):
            r = flood.get("/health")
            if r.status_code == 429:
                break
            assert r.status_code == 200
        refused(server, r, 429)
        assert int(r.headers["retry-after"]) >= 1
        assert server.audit(r.headers["x-request-id"])[0]["user"] == "anonymous"
    # other addresses are not affected
    assert server.client.get("/health").status_code == 200
