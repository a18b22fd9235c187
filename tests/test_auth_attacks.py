"""The attack matrix against a real ``codeweaver serve`` (auth mode jwt) over HTTP and
MCP, with the identity store on SQLite and on a real PostgreSQL server.

Every attack is refused with the right status, returns no data and leaves an audit
record; the right role in the right tenant gets 200s for the same calls.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from attack_server import SECRET, Server, attack_server, refused


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory) -> Iterator[Server]:
    with attack_server(tmp_path_factory.mktemp(f"attack-{request.param}"), request.param) as srv:
        yield srv


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
