"""The attack matrix against a real ``codeweaver serve`` (auth mode jwt) over HTTP and
MCP, with the identity store on SQLite and on a real PostgreSQL server.

Every attack is refused with the right status, returns no data and leaves an audit
record; the right role in the right tenant gets 200s for the same calls.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

import pg_server
from codeweaver.config import load_settings
from codeweaver.ops.auth.admin import Admin
from codeweaver.ops.auth.audit import AuditLog
from codeweaver.ops.auth.rbac import Roles
from codeweaver.ops.auth.setup import open_store
from net_helpers import free_port as _free_port
from net_helpers import wait_http

SECRET = "attack-matrix-secret-0123456789abcdef"
PASSWORD = "correct-horse-battery-staple"
ACME_PY = '''def upload_with_retry(client, path, attempts=3):
    """Upload a file, retrying on connection errors."""
    for attempt in range(attempts):
        try:
            return client.put(path)
        except ConnectionError:
            continue
'''
GLOBEX_PY = "def globex_ledger_total(rows):\n    return sum(r.amount for r in rows)\n"
OUTSIDE = "TOP-SECRET-OUTSIDE-THE-ROOT\n"
USERS = {  # name: (role, tenant)
    "am": ("manager", "acme"),
    "gm": ("manager", "globex"),
    "alice": ("developer", "acme"),
    "mallory": ("developer", "globex"),
    "ro": ("readonly", "acme"),
    "dis": ("developer", "acme"),
    "lock": ("developer", "acme"),
    "flood": ("readonly", "acme"),
}


class Server:
    def __init__(self, base: str, home: Path, env: dict[str, str], tmp: Path) -> None:
        self.base = base
        self.home = home
        self.env = env
        self.tmp = tmp
        self.keys: dict[str, str] = {}
        self.secrets: list[str] = [PASSWORD, SECRET]
        self.tokens: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, str] = {}
        self.client = httpx.Client(base_url=base, timeout=60)

    def login(self, user: str, password: str = PASSWORD) -> httpx.Response:
        r = self.client.post("/auth/token", json={"username": user, "password": password})
        if r.status_code == 200:
            self.secrets += [r.json()["access_token"], r.json()["refresh_token"]]
        return r

    def token(self, user: str) -> str:
        if user not in self.tokens:
            r = self.login(user)
            assert r.status_code == 200, r.text
            self.tokens[user] = r.json()
        return str(self.tokens[user]["access_token"])

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def audit(self, request_id: str | None = None, **match: Any) -> list[dict[str, Any]]:
        path = self.home / "audit.log"
        lines = path.read_text().splitlines() if path.exists() else []
        records = [json.loads(line) for line in lines]
        if request_id is not None:
            records = [r for r in records if r["request_id"] == request_id]
        return [r for r in records if all(r.get(k) == v for k, v in match.items())]

    def admin(self) -> Admin:
        store = open_store(load_settings(**self._settings()))
        return Admin(store, Roles(), AuditLog(self.home / "audit.log"), actor="cli:test")

    def _settings(self) -> dict[str, Any]:
        url = self.env.get("CODEWEAVER_DATABASE__URL")
        return {"home": self.home, "database": {"url": url}}


def _make_tree(tmp: Path) -> tuple[Path, Path]:
    acme, globex = tmp / "acme-src", tmp / "globex-src"
    acme.mkdir()
    globex.mkdir()
    (acme / "upload.py").write_text(ACME_PY)
    (acme / "link.py").write_text("def harmless():\n    return 1\n")
    (tmp / "outside.txt").write_text(OUTSIDE)
    (globex / "ledger.py").write_text(GLOBEX_PY)
    return acme, globex


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"attack-{request.param}")
    home = tmp / "home"
    env = {
        **os.environ,
        "CODEWEAVER_HOME": str(home),
        "CODEWEAVER_AUTH__MODE": "jwt",
        "CODEWEAVER_AUTH__SECRET": SECRET,
        "CODEWEAVER_AUTH__USER_RATE": "1",
        "CODEWEAVER_AUTH__USER_BURST": "150",
        "CODEWEAVER_AUTH__TENANT_RATE": "0",
        "CODEWEAVER_LOG_LEVEL": "info",
        "PYTHONUNBUFFERED": "1",
    }
    stack: list[Any] = []
    if request.param == "postgresql":
        if not pg_server.available():
            pytest.skip("PostgreSQL 15 server binaries are not installed")
        cm = pg_server.postgres()
        url = cm.__enter__()
        stack.append(cm)
        name = "cw_" + uuid.uuid4().hex[:8]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        env["CODEWEAVER_DATABASE__URL"] = url.rsplit("/", 1)[0] + "/" + name
    port = _free_port()
    srv = Server(f"http://127.0.0.1:{port}", home, env, tmp)
    srv.acme, srv.globex = _make_tree(tmp)  # type: ignore[attr-defined]
    admin = srv.admin()
    for name, (role, tenant) in USERS.items():
        admin.add_user(name, role, tenant, PASSWORD)
    admin.add_user("svc", "developer", "acme", None, service=True)
    for label in ("good", "revoked", "expired"):
        days = 1e-6 if label == "expired" else None
        record, key = admin.create_key("svc", label, days)
        srv.keys[label] = key
        srv.keys[label + "_id"] = record.key_id
        srv.secrets.append(key)
    admin.revoke_key(srv.keys["revoked_id"])
    admin.store.db.close()
    log = tmp / "server.log"
    out = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)],
        cwd=tmp,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(f"{srv.base}/health/ready", proc, log)
        _index(srv, "am", srv.acme, "acme")  # type: ignore[attr-defined]
        _index(srv, "gm", srv.globex, "globex")  # type: ignore[attr-defined]
        srv.log = log  # type: ignore[attr-defined]
        yield srv
    finally:
        srv.client.close()
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        out.close()
        for cm in stack:
            cm.__exit__(None, None, None)


def _index(srv: Server, user: str, root: Path, project: str) -> None:
    r = srv.client.post(
        "/api/v1/index", json={"path": str(root), "project": project}, headers=srv.auth(user)
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    srv.jobs[project] = job_id
    deadline = time.monotonic() + 90
    while True:
        job = srv.client.get(f"/api/v1/jobs/{job_id}", headers=srv.auth(user)).json()
        if job["state"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job["state"] == "succeeded" and job["tenant"] == project, job


def refused(srv: Server, r: httpx.Response, status: int, event: str = "authz.denied") -> None:
    """Right status, the one error shape, no data, and an audit record of it."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    for leak in ("upload_with_retry", "globex_ledger_total", OUTSIDE.strip()):
        assert leak not in r.text
    rid = r.headers["x-request-id"]
    assert srv.audit(rid, event=event), f"no {event} audit record for {r.request.url}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "alice", "iss": "codeweaver", "aud": "codeweaver", "iat": now, "nbf": now,
            "exp": now + 300, "jti": uuid.uuid4().hex, "typ": "access"}  # fmt: skip
    base.update(over)
    return base


def _forged() -> dict[str, str]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return {
        "garbage": "not.a.jwt",
        "expired": jwt.encode(_claims(exp=int(time.time()) - 120), SECRET, algorithm="HS256"),
        "not yet valid": jwt.encode(_claims(nbf=int(time.time()) + 600), SECRET),
        "wrong signature": jwt.encode(_claims(), "another-secret-of-enough-length-000"),
        "wrong issuer": jwt.encode(_claims(iss="evil"), SECRET),
        "wrong audience": jwt.encode(_claims(aud="someone-else"), SECRET),
        "alg none": f"{none_header}.{_b64(json.dumps(_claims()).encode())}.",
        "rs256 confusion": jwt.encode(_claims(), rsa_key, algorithm="RS256"),
        "no jti": jwt.encode({k: v for k, v in _claims().items() if k != "jti"}, SECRET),
    }


SEARCH = {"query": "retry a failed upload", "project": "acme", "limit": 3}


def test_public_routes_and_security_headers(server):
    r = server.client.get("/health/live", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "access-control-allow-origin" not in r.headers  # CORS off by default


def test_bad_tokens_are_refused(server):
    r = server.client.post("/api/v1/search", json=SEARCH)
    refused(server, r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = server.client.post("/api/v1/search", json=SEARCH, headers={"Authorization": "Basic eA=="})
    refused(server, r, 401)
    for name, token in _forged().items():
        r = server.client.post(
            "/api/v1/search", json=SEARCH, headers={"Authorization": f"Bearer {token}"}
        )
        refused(server, r, 401)
        assert server.audit(r.headers["x-request-id"])[0]["user"] == "anonymous", name
    # the same claims, signed right, are accepted (so the refusals above are meaningful)
    good = jwt.encode(_claims(), SECRET, algorithm="HS256")
    r = server.client.post(
        "/api/v1/search", json=SEARCH, headers={"Authorization": f"Bearer {good}"}
    )
    assert r.status_code == 200 and r.json()["results"][0]["symbol"] == "upload_with_retry"


def test_login_refresh_rotation_reuse_and_logout(server):
    r = server.login("alice", "wrong-password-123")
    refused(server, r, 401, "auth.login.failure")
    r = server.login("alice")
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
    assert server.audit(r.headers["x-request-id"], event="auth.login.success", user="alice")
    first = r.json()
    r = server.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    server.secrets += [second["access_token"], second["refresh_token"]]
    assert second["refresh_token"] != first["refresh_token"]
    assert server.audit(r.headers["x-request-id"], event="auth.token.refresh", outcome="success")
    # reuse of the rotated token: refused, and the whole family is revoked
    r = server.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    refused(server, r, 401, "auth.refresh.reuse")
    r = server.client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    refused(server, r, 401, "auth.token.refresh")
    # logout revokes the access token at once
    third = server.login("alice").json()
    bearer = {"Authorization": f"Bearer {third['access_token']}"}
    assert server.client.get("/api/v1/user/permissions", headers=bearer).status_code == 200
    r = server.client.post(
        "/auth/logout", json={"refresh_token": third["refresh_token"]}, headers=bearer
    )
    assert r.status_code == 200 and server.audit(r.headers["x-request-id"], event="auth.logout")
    refused(server, server.client.get("/api/v1/user/permissions", headers=bearer), 401)
    r = server.client.post("/auth/refresh", json={"refresh_token": third["refresh_token"]})
    refused(server, r, 401, "auth.token.refresh")


def test_api_keys_good_revoked_expired(server):
    good = {"Authorization": f"Bearer {server.keys['good']}"}
    r = server.client.post("/api/v1/search", json=SEARCH, headers=good)
    assert r.status_code == 200 and r.json()["results"]
    r = server.client.post("/auth/token", json={"api_key": server.keys["good"]})
    assert r.status_code == 200 and r.json()["access_token"]
    server.secrets += [r.json()["access_token"], r.json()["refresh_token"]]
    for label in ("revoked", "expired"):
        bearer = {"Authorization": f"Bearer {server.keys[label]}"}
        refused(server, server.client.post("/api/v1/search", json=SEARCH, headers=bearer), 401)
        r = server.client.post("/auth/token", json={"api_key": server.keys[label]})
        refused(server, r, 401, "auth.login.failure")
    fake = server.keys["good"][:-4] + "AAAA"
    bearer = {"Authorization": f"Bearer {fake}"}
    refused(server, server.client.post("/api/v1/search", json=SEARCH, headers=bearer), 401)


def test_disabled_user(server):
    bearer = server.auth("dis")
    assert server.client.post("/api/v1/search", json=SEARCH, headers=bearer).status_code == 200
    admin = server.admin()
    admin.disable("dis")
    admin.store.db.close()
    refused(server, server.client.post("/api/v1/search", json=SEARCH, headers=bearer), 401)
    refused(server, server.login("dis"), 401, "auth.login.failure")


def test_lockout_after_five_failures(server):
    for _ in range(5):
        refused(server, server.login("lock", "bad-password-000"), 401, "auth.login.failure")
    r = server.login("lock")  # the right password, but locked now
    refused(server, r, 401, "auth.login.failure")
    assert "locked" in r.json()["error"]["message"]


def test_rbac_denials_and_permissions_endpoint(server):
    r = server.client.get("/api/v1/user/permissions", headers=server.auth("alice"))
    me = r.json()
    assert me["user"] == "alice" and me["roles"] == ["developer"] and me["tenants"] == ["acme"]
    assert "codeweaver:code:read" in me["permissions"]
    ro = server.auth("ro")
    r = server.client.post(
        "/api/v1/index", json={"path": str(server.acme), "project": "acme"}, headers=ro
    )
    refused(server, r, 403)
    r = server.client.get("/api/v1/projects/acme/files", params={"path": "upload.py"}, headers=ro)
    refused(server, r, 403)
    refused(
        server, server.client.delete("/api/v1/projects/acme", headers=server.auth("alice")), 403
    )
    assert server.client.post("/api/v1/search", json=SEARCH, headers=ro).status_code == 200


def _cross_tenant_calls(server: Server) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("POST", "/api/v1/search", {"json": SEARCH}),
        ("POST", "/api/v1/structural-search",
         {"json": {"pattern": "def $F($$$A): $$$B", "language": "python", "project": "acme"}}),
        ("GET", "/api/v1/projects/acme/files", {"params": {"path": "upload.py"}}),
        ("GET", "/api/v1/projects/acme", {}),
        ("GET", f"/api/v1/jobs/{server.jobs['acme']}", {}),
    ]  # fmt: skip


def test_cross_tenant_access_is_not_found(server):
    for method, path, kw in _cross_tenant_calls(server):
        r = server.client.request(method, path, headers=server.auth("mallory"), **kw)
        refused(server, r, 404)
        assert "acme" not in r.json()["error"]["message"].split("known:")[-1]
        # the right tenant gets the same call answered
        ok = server.client.request(method, path, headers=server.auth("alice"), **kw)
        assert ok.status_code == 200, ok.text
    gm = server.auth("gm")
    r = server.client.post(
        "/api/v1/index", json={"path": str(server.globex), "project": "acme"}, headers=gm
    )
    refused(server, r, 404)
    # another tenant's source folder (or a folder around or inside it) under a new name
    (server.acme / "sub").mkdir(exist_ok=True)
    for path in (server.acme, server.acme.parent, server.acme / "sub"):
        r = server.client.post(
            "/api/v1/index", json={"path": str(path), "project": "stolen"}, headers=gm
        )
        refused(server, r, 404)
    refused(server, server.client.delete("/api/v1/projects/acme", headers=gm), 404)
    listed = server.client.get("/api/v1/projects", headers=server.auth("mallory")).json()
    assert [p["project"] for p in listed["projects"]] == ["globex"]
    r = server.client.post(
        "/api/v1/search", json={"query": "ledger total"}, headers=server.auth("mallory")
    )
    assert r.status_code == 200 and r.json()["project"] == "globex"
    assert server.audit(r.headers["x-request-id"], event="data.access", project="globex")


def test_path_traversal_and_symlink_escape(server):
    alice = server.auth("alice")
    for bad in ("../outside.txt", "/etc/passwd", "a/../../outside.txt"):
        r = server.client.get("/api/v1/projects/acme/files", params={"path": bad}, headers=alice)
        refused(server, r, 422)
    link = server.acme / "link.py"
    link.unlink()
    link.symlink_to(server.tmp / "outside.txt")
    r = server.client.get("/api/v1/projects/acme/files", params={"path": "link.py"}, headers=alice)
    refused(server, r, 422)
    assert "outside the project root" in r.json()["error"]["message"]


def test_oversized_body_and_query(server):
    big = b'{"query": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = server.client.post(
        "/api/v1/search",
        content=big,
        headers={**server.auth("alice"), "Content-Type": "application/json"},
    )
    refused(server, r, 413)
    r = server.client.get(
        "/api/v1/projects", params={"q": "x" * 10_000}, headers=server.auth("alice")
    )
    refused(server, r, 414)


def test_rate_limit_per_user(server):
    bearer = server.auth("flood")
    for _ in range(400):
        r = server.client.get("/api/v1/user/permissions", headers=bearer)
        if r.status_code == 429:
            break
        assert r.status_code == 200
    refused(server, r, 429)
    assert int(r.headers["retry-after"]) >= 1
    # other users are not affected
    assert (
        server.client.get("/api/v1/user/permissions", headers=server.auth("ro")).status_code == 200
    )


async def _mcp(server: Server) -> None:
    url = f"{server.base}/mcp"

    async def session(user: str, calls: Any) -> Any:
        client = httpx.AsyncClient(headers=server.auth(user), timeout=60)
        async with (
            client,
            streamable_http_client(url, http_client=client) as (read, write),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            return await calls(s)

    async def ro_calls(s: ClientSession) -> Any:
        return await s.call_tool("index_codebase", {"path": str(server.acme), "project": "acme"})

    denied = await session("ro", ro_calls)
    assert denied.is_error and "permission denied" in denied.content[0].text

    async def mallory_calls(s: ClientSession) -> Any:
        read = await s.call_tool("get_code", {"project": "acme", "path": "upload.py"})
        found = await s.call_tool("search_code", {"query": "upload retry", "project": "acme"})
        listed = await s.call_tool("list_projects", {})
        return read, found, listed

    read, found, listed = await session("mallory", mallory_calls)
    assert read.is_error and "unknown project 'acme'" in read.content[0].text
    assert found.is_error and "upload_with_retry" not in found.content[0].text
    assert [p["project"] for p in listed.structured_content["projects"]] == ["globex"]

    async def alice_calls(s: ClientSession) -> Any:
        return await s.call_tool("get_code", {"project": "acme", "path": "upload.py"})

    ok = await session("alice", alice_calls)
    assert not ok.is_error and "upload_with_retry" in ok.structured_content["content"]


def test_mcp_over_http_needs_tokens_and_permissions(server):
    r = server.client.post("/mcp/", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    refused(server, r, 401)
    anyio.run(_mcp, server)
    assert server.audit(event="authz.denied", user="ro", route="mcp:index_codebase")
    assert server.audit(event="authz.denied", user="mallory", route="mcp:get_code")
    assert server.audit(event="data.access", user="alice", route="mcp:get_code", project="acme")


def test_no_secret_ever_reaches_a_log(server):
    texts = [(server.home / "audit.log").read_text(), server.log.read_text()]
    for secret in server.secrets:
        for text in texts:
            assert secret not in text
    assert "$argon2" not in texts[0] and "$argon2" not in texts[1]


def test_health_reports_the_identity_store(server):
    r = server.client.get("/api/v1/health", headers=server.auth("alice"))
    assert r.status_code == 200, r.text
    store = r.json()["components"]["auth_store"]
    assert store["status"] == "healthy" and "identity store" in store["detail"]
