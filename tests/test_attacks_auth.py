"""Attacks on authentication and sessions against a real ``codeweaver serve`` (auth mode
jwt), with the identity store on SQLite and on a real PostgreSQL server.

- a token pair obtained with an API key outlives the key's revocation;
- access tokens outlive their session: refresh-token reuse, a body-less logout;
- parallel wrong logins get more password checks than the lockout allows;
- a rotating ``X-Forwarded-For`` from a loopback peer escapes the per-IP limit;
- a stalled identity store stalls every request, unauthenticated ones included.

Each attack gets the right refusal: status, the one error shape, no data, an audit record.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import psycopg
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

import pg_server
from attack_server import MCP_INITIALIZE, PASSWORD, SECRET, Server, attack_server, refused
from codeweaver.api import create_app
from codeweaver.auth.admin import Admin
from codeweaver.auth.audit import AuditLog
from codeweaver.auth.rbac import Roles
from codeweaver.auth.setup import open_store
from codeweaver.config import Settings
from codeweaver.container import build_engine
from embedder_twin import HashEmbedder

COUNTER_DIR = Path(__file__).resolve().parent / "verify_counter"
SEARCH = {"query": "retry a failed upload", "project": "acme", "limit": 3}


def _counting_env(tmp: Path) -> dict[str, str]:
    """The server counts its password verifications in ``tmp/verifications``."""
    path = os.pathsep.join(p for p in (str(COUNTER_DIR), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path, "CODEWEAVER_TEST_VERIFY_LOG": str(tmp / "verifications")}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"attack-auth-{request.param}")
    with attack_server(tmp, request.param, _counting_env(tmp)) as srv:
        yield srv


def _verifications(server: Server) -> int:
    path = server.tmp / "verifications"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _pair(server: Server, r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    pair: dict[str, Any] = r.json()
    server.secrets += [pair["access_token"], pair["refresh_token"]]
    return pair


def _refresh(server: Server, refresh_token: str) -> httpx.Response:
    return server.client.post("/auth/refresh", json={"refresh_token": refresh_token})


def _search(server: Server, token: str) -> httpx.Response:
    return server.client.post("/api/v1/search", json=SEARCH, headers=_bearer(token))


def _mcp_initialize(server: Server, token: str) -> httpx.Response:
    headers = {**_bearer(token), "Accept": "application/json, text/event-stream"}
    return server.client.post("/mcp/", json=MCP_INITIALIZE, headers=headers)


async def _mcp_projects(server: Server, token: str) -> list[str]:
    client = httpx.AsyncClient(headers=_bearer(token), timeout=60)
    async with (
        client,
        streamable_http_client(f"{server.base}/mcp", http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        listed = await session.call_tool("list_projects", {})
    assert listed.structured_content is not None
    return [p["project"] for p in listed.structured_content["projects"]]


def _works(server: Server, token: str) -> None:
    """The token is accepted over HTTP and MCP (so that later refusals mean something)."""
    r = _search(server, token)
    assert r.status_code == 200 and r.json()["results"][0]["symbol"] == "upload_with_retry"
    assert anyio.run(_mcp_projects, server, token) == ["acme"]


def _dead(server: Server, token: str) -> None:
    """The token is refused over HTTP and MCP, with no data and an audit record."""
    refused(server, _search(server, token), 401)
    refused(server, server.client.get("/api/v1/user/permissions", headers=_bearer(token)), 401)
    refused(server, _mcp_initialize(server, token), 401)


# ------------------------------------------------- API-key sessions (finding 3)
def test_revoking_an_api_key_ends_its_sessions(server):
    admin = server.admin()
    record, key = admin.create_key("svc", "session-test", None)
    admin.store.db.close()
    server.secrets.append(key)
    first = _pair(server, server.client.post("/auth/token", json={"api_key": key}))
    me = server.client.get("/api/v1/user/permissions", headers=_bearer(first["access_token"]))
    assert me.status_code == 200 and me.json()["user"] == "svc"
    assert me.json()["authenticated_by"] == "api_key"
    second = _pair(server, _refresh(server, first["refresh_token"]))
    me = server.client.get("/api/v1/user/permissions", headers=_bearer(second["access_token"]))
    assert me.json()["authenticated_by"] == "api_key"  # the refreshed token too
    for pair in (first, second):
        _works(server, pair["access_token"])

    done = subprocess.run(
        [sys.executable, "-m", "codeweaver.cli.app", "keys", "revoke", record.key_id],
        cwd=server.tmp,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    for pair in (first, second):
        _dead(server, pair["access_token"])
    r = _refresh(server, second["refresh_token"])
    refused(server, r, 401, "auth.token.refresh")
    assert "revoked" in r.json()["error"]["message"]
    refused(server, server.client.post("/auth/token", json={"api_key": key}), 401,
            "auth.login.failure")  # fmt: skip
    refused(server, _search(server, key), 401)
    # a token naming the key but no session (only the signing key can make one) is refused
    now = int(time.time())
    claims = {"sub": "svc", "iss": "codeweaver", "aud": "codeweaver", "iat": now,
              "nbf": now, "exp": now + 300, "jti": "forged-1", "typ": "access",
              "key_id": record.key_id}  # fmt: skip
    refused(server, _search(server, jwt.encode(claims, SECRET, algorithm="HS256")), 401)
    # other sessions of the same account (made with another key) are unaffected
    other = _pair(server, server.client.post("/auth/token", json={"api_key": server.keys["good"]}))
    assert _search(server, other["access_token"]).status_code == 200


# ------------------------------------------------- access tokens die with their session
def test_refresh_reuse_ends_the_family_access_tokens(server):
    first = _pair(server, server.login("alice"))
    second = _pair(server, _refresh(server, first["refresh_token"]))
    for pair in (first, second):
        _works(server, pair["access_token"])
    me = server.client.get("/api/v1/user/permissions", headers=_bearer(first["access_token"]))
    assert me.json()["authenticated_by"] == "password"
    # the stolen, already used refresh token comes back: the whole family is revoked
    refused(server, _refresh(server, first["refresh_token"]), 401, "auth.refresh.reuse")
    for pair in (first, second):
        _dead(server, pair["access_token"])
    refused(server, _refresh(server, second["refresh_token"]), 401, "auth.token.refresh")


def test_bodyless_logout_ends_the_whole_session(server):
    other = _pair(server, server.login("alice"))  # another session of the same user
    first = _pair(server, server.login("alice"))
    second = _pair(server, _refresh(server, first["refresh_token"]))
    r = server.client.post("/auth/logout", headers=_bearer(second["access_token"]))
    assert r.status_code == 200, r.text
    assert server.audit(r.headers["x-request-id"], event="auth.logout", user="alice")
    for pair in (first, second):
        _dead(server, pair["access_token"])
    refused(server, _refresh(server, second["refresh_token"]), 401, "auth.token.refresh")
    # logging out one session leaves the user's other sessions alone
    _works(server, other["access_token"])
    assert _refresh(server, other["refresh_token"]).status_code == 200


# ------------------------------------------------------------ lockout race (finding 4)
def test_parallel_wrong_logins_get_at_most_the_limit_of_checks(server):
    before = _verifications(server)
    refused(server, server.login("no-such-user", "wrong-password-123"), 401, "auth.login.failure")
    assert _verifications(server) == before + 1  # the counter sees every check
    barrier = threading.Barrier(30)
    limits = httpx.Limits(max_connections=40, max_keepalive_connections=40)

    with httpx.Client(base_url=server.base, timeout=120, limits=limits) as client:

        def guess(i: int) -> httpx.Response:
            barrier.wait()
            body = {"username": "lock", "password": f"wrong-guess-{i:04d}"}
            return client.post("/auth/token", json=body)

        with ThreadPoolExecutor(30) as pool:
            answers = list(pool.map(guess, range(30)))

    assert _verifications(server) - before - 1 == 5  # auth.lockout_attempts, no more
    for r in answers:
        refused(server, r, 401, "auth.login.failure")
    messages = [r.json()["error"]["message"] for r in answers]
    assert sum("locked" in m for m in messages) == 26  # 25 never checked, 1 locked it
    assert messages.count("invalid username or password") == 4
    # the right password is refused while locked, without even being checked
    r = server.login("lock", PASSWORD)
    refused(server, r, 401, "auth.login.failure")
    assert "locked" in r.json()["error"]["message"]
    assert _verifications(server) - before - 1 == 5
    records = server.audit(event="auth.login.failure", user="lock")
    assert len(records) == 31 and all(rec["outcome"] == "failure" for rec in records)


# ------------------------------------------- authentication off the loop (finding 20a)
def test_a_stalled_identity_store_does_not_stall_the_server(server):
    url = server.env.get("CODEWEAVER_DATABASE__URL")
    if url is None:  # and SQLite reads are local (WAL: writers never block them)
        pytest.skip("a SQLite store's readers cannot be blocked from outside")
    bearer = server.auth("alice")
    with psycopg.connect(url) as conn, ThreadPoolExecutor(1) as pool:
        conn.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")  # held until rollback
        try:
            stuck = pool.submit(server.client.get, "/api/v1/user/permissions", headers=bearer)
            time.sleep(0.5)
            assert not stuck.done()  # its credential check waits for the store
            started = time.monotonic()
            try:
                r = httpx.get(f"{server.base}/health/live", timeout=5)
            except httpx.TimeoutException:
                pytest.fail("/health/live stalled behind an identity-store query")
            assert r.status_code == 200 and time.monotonic() - started < 2
        finally:
            conn.rollback()
        assert stuck.result(60).status_code == 200


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if not pg_server.available():
        pytest.skip("PostgreSQL 15 server binaries are not installed")
    with pg_server.postgres() as url:
        yield url


def test_a_slow_identity_store_does_not_stall_the_app_in_process(tmp_path, pg_url):
    """The same with a PostgreSQL store slowed from inside the app (no lock: latency)."""
    settings = Settings(
        home=tmp_path / "home",
        auth={"mode": "jwt", "secret": SECRET},
        database={"url": pg_server.fresh_database(pg_url)},
    )
    store = open_store(settings)
    Admin(store, Roles(), AuditLog(None), actor="test").add_user(
        "alice", "developer", "acme", PASSWORD
    )
    store.db.close()
    engine = build_engine(settings, embedder=HashEmbedder())
    app = create_app(settings, engine, mount_mcp=False, auth_mode="jwt")

    async def main() -> None:
        async with app.router.lifespan_context(app):
            auth = app.state.auth
            token = auth.login_password("alice", PASSWORD).access_token
            fast = auth.store.db.read

            @contextmanager
            def slow() -> Iterator[Any]:  # every per-request read of the store
                time.sleep(1.5)
                with fast() as cur:
                    yield cur

            auth.store.db.read = slow
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                started = time.monotonic()
                stuck = asyncio.create_task(
                    c.get("/api/v1/user/permissions", headers=_bearer(token))
                )
                await asyncio.sleep(0.2)  # the slow request is in its credential check
                r = await c.get("/health/live")
                took = time.monotonic() - started
                assert r.status_code == 200 and took < 1.0, took  # not after the 1.5 s
                assert (await stuck).status_code == 200

    try:
        asyncio.run(main())
    finally:
        engine.close()


# ------------------------------------------------ trusted proxies (finding 13)
def _exhaust(server: Server, forwarded: Any) -> tuple[httpx.Response, int]:
    """/auth/* calls (cheap refusals) until the per-IP limit answers; (last answer, count)."""
    for i in range(400):
        headers = {"X-Forwarded-For": forwarded(i)} if forwarded else {}
        r = server.client.post("/auth/refresh", json={"refresh_token": "cwr_x"}, headers=headers)
        if r.status_code == 429:
            return r, i
        assert r.status_code == 401, r.text
    return r, 400


def test_invalid_trusted_proxies_stop_the_start_with_one_line(tmp_path):
    env = {**os.environ, "CODEWEAVER_HOME": str(tmp_path / "home"),
           "CODEWEAVER_AUTH__MODE": "jwt", "CODEWEAVER_AUTH__SECRET": SECRET,
           "CODEWEAVER_AUTH__TRUSTED_PROXIES": '["10.0.0.1", "proxy.example"]'}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "trusted_proxies" in done.stderr and "'proxy.example'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_forwarded_for_is_believed_only_from_trusted_proxies(tmp_path):
    env = {"CODEWEAVER_AUTH__TRUSTED_PROXIES": '["127.0.0.1"]'}
    with attack_server(tmp_path, "sqlite", env) as srv:
        r, _ = _exhaust(srv, lambda i: "203.0.113.7")
        refused(srv, r, 429)
        # the limit is the forwarded client's: another client, and the proxy itself, pass
        for headers in ({"X-Forwarded-For": "203.0.113.8"}, {}):
            r = srv.client.post("/auth/refresh", json={"refresh_token": "x"}, headers=headers)
            assert r.status_code == 401, r.text


def test_rotating_forwarded_for_does_not_escape_the_per_ip_limit(server):
    """Last in the module: it uses up the loopback address's /auth/* allowance."""
    r, count = _exhaust(server, lambda i: f"198.51.100.{i % 250}, 203.0.113.{i % 200}")
    refused(server, r, 429)
    assert int(r.headers["retry-after"]) >= 1 and count <= 200
