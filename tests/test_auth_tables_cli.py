"""Every route and MCP tool declares a permission (and the README lists them); tenant
scoping at the engine and job level; the users/keys commands; serve's auth-mode guard."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from codeweaver.api import create_app
from codeweaver.api.routes import ROUTES
from codeweaver.auth.rbac import AUTHENTICATED, PUBLIC, validate_permission
from codeweaver.cli.app import app
from codeweaver.config import Settings
from codeweaver.container import build_engine
from codeweaver.errors import NotFoundError, OutOfScopeError
from codeweaver.mcp.tools import TOOLS
from codeweaver.search.service import SearchRequest
from codeweaver.workers.jobs import JobManager
from embedder_twin import HashEmbedder

README = Path(__file__).resolve().parents[1] / "README.md"
runner = CliRunner()


def _valid(permission: str) -> bool:
    if permission in (PUBLIC, AUTHENTICATED):
        return True
    validate_permission(permission)
    return "*" not in permission


def test_every_route_declares_a_permission_and_the_readme_lists_it():
    text = README.read_text(encoding="utf-8")
    missing = [f"{r.method} {r.path}" for r in ROUTES if not r.permission]
    assert not missing, f"routes without a permission: {missing}"
    for route in ROUTES:
        assert _valid(route.permission), route
        row = f"| `{route.method}` | `{route.path}` | {route.summary} | `{route.permission}` |"
        assert row in text, row


def test_every_mcp_tool_declares_a_permission_and_the_readme_lists_it():
    text = README.read_text(encoding="utf-8")
    missing = [t.name for t in TOOLS if not t.permission]
    assert not missing, f"MCP tools without a permission: {missing}"
    for tool in TOOLS:
        assert _valid(tool.permission), tool
        assert f"| `{tool.name}` | `{tool.permission}` |" in text, tool.name


@pytest.fixture
def engine(tmp_path):
    eng = build_engine(Settings(home=tmp_path / "home"), embedder=HashEmbedder())
    for name in ("acme", "globex"):
        root = tmp_path / f"{name}-src"
        root.mkdir()
        (root / f"{name}.py").write_text(f"def {name}_handler(x):\n    return x\n")
        eng.index(root, name, tenant=name)
    yield eng
    eng.close()


def test_engine_scopes_every_lookup_to_the_callers_tenants(engine, tmp_path):
    mine = ("globex",)
    assert [p["project"] for p in engine.list_projects(tenants=mine)] == ["globex"]
    assert engine.status("globex", tenants=mine)["tenant"] == "globex"
    assert len(engine.list_projects()) == 2 and len(engine.list_projects(tenants=("*",))) == 2
    calls = [
        lambda: engine.search(SearchRequest("handler"), "acme", tenants=mine),
        lambda: engine.status("acme", tenants=mine),
        lambda: engine.indexed_paths("acme", tenants=mine),
        lambda: engine.remove_project("acme", tenants=mine),
        lambda: engine.index(tmp_path / "globex-src", "acme", tenants=mine),
    ]
    with pytest.raises(OutOfScopeError, match=r"^path not available for indexing"):
        engine.index(tmp_path / "acme-src", "copy", tenant="globex", tenants=mine)
    with pytest.raises(OutOfScopeError):
        engine.check_root(tmp_path, mine)
    engine.check_root(tmp_path / "globex-src", mine)  # its own project is fine
    for call in calls:
        with pytest.raises(OutOfScopeError) as err:
            call()
        # indistinguishable from a missing project, and names no other tenant's project
        assert str(err.value) == "unknown project 'acme' (known: globex)"
    with pytest.raises(NotFoundError) as err:
        engine.status("nope", tenants=mine)
    assert not isinstance(err.value, OutOfScopeError)
    # without a name, only the caller's one project is a candidate
    result = engine.search(SearchRequest("handler"), None, tenants=mine)
    assert {h.path for h in result.hits} == {"globex.py"}
    assert engine.status("acme")["files"] == 1  # still there


def test_jobs_are_scoped_to_tenants(engine, tmp_path):
    jobs = JobManager(engine, workers=1)
    job = jobs.submit(str(tmp_path / "acme-src"), "acme", tenant="acme", tenants=("acme",))
    assert jobs.get(job.id, tenants=("acme",))["tenant"] == "acme"
    with pytest.raises(OutOfScopeError, match="unknown job"):
        jobs.get(job.id, tenants=("globex",))
    with pytest.raises(OutOfScopeError):
        jobs.submit(str(tmp_path / "globex-src"), "acme", tenant="globex", tenants=("globex",))


def test_projects_written_before_tenants_belong_to_default(tmp_path):
    folder = tmp_path / "home" / "projects" / "old"
    folder.mkdir(parents=True)
    (folder / "project.json").write_text(json.dumps({"name": "old", "root": str(tmp_path)}))
    eng = build_engine(Settings(home=tmp_path / "home"), embedder=HashEmbedder())
    try:
        assert eng.resolve_project("old", tenants=("default",)).tenant == "default"
        with pytest.raises(OutOfScopeError):
            eng.resolve_project("old", tenants=("acme",))
    finally:
        eng.close()


def _cli(home: Path, *args: str, stdin: str | None = None):
    return runner.invoke(app, list(args), input=stdin, env={"CODEWEAVER_HOME": str(home)})


def test_users_and_keys_commands(tmp_path):
    home = tmp_path / "home"
    r = _cli(home, "users", "add", "alice", "--role", "developer", "--tenant", "acme",
             "--password-stdin", stdin="a-long-enough-password\n")  # fmt: skip
    assert r.exit_code == 0, r.output
    r = _cli(home, "users", "add", "bot", "--service", "--role", "readonly")
    assert r.exit_code == 0, r.output
    assert _cli(home, "users", "set-role", "alice", "manager").exit_code == 0
    assert _cli(home, "users", "add-tenant", "alice", "shared").exit_code == 0
    assert _cli(home, "users", "disable", "bot").exit_code == 0
    users = json.loads(_cli(home, "users", "list", "--json").output)["users"]
    alice = next(u for u in users if u["name"] == "alice")
    assert alice["role"] == "manager" and alice["tenants"] == ["acme", "shared"]
    assert next(u for u in users if u["name"] == "bot")["disabled"] is True
    r = _cli(home, "keys", "create", "bot", "--name", "ci", "--expires-days", "30", "--json")
    created = json.loads(r.output)
    assert created["api_key"].startswith("cwk_") and created["key_id"] in created["api_key"]
    listed = _cli(home, "keys", "list", "--json").output
    assert created["api_key"] not in listed and created["key_id"] in listed
    assert _cli(home, "keys", "revoke", created["key_id"]).exit_code == 0
    assert json.loads(_cli(home, "keys", "list", "--json").output)["keys"][0]["revoked"]
    # bad input: one line, exit code 2
    for args, message in [
        (("users", "set-role", "alice", "emperor"), "unknown role 'emperor'"),
        (("users", "set-role", "ghost", "admin"), "unknown user 'ghost'"),
        (("keys", "revoke", "nope"), "unknown API key"),
        (("users", "add-tenant", "alice", "../x"), "invalid tenant"),
    ]:
        r = _cli(home, *args)
        assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output
    r = _cli(home, "users", "add", "eve", "--password-stdin", stdin="short\n")
    assert r.exit_code == 2 and "at least 12" in r.output
    audit = [json.loads(line) for line in (home / "audit.log").read_text().splitlines()]
    events = [a["event"] for a in audit]
    for event in ("admin.user.add", "admin.user.set_role", "admin.user.add_tenant",
                  "admin.user.disable", "admin.key.create", "admin.key.revoke"):  # fmt: skip
        assert event in events
    text = (home / "audit.log").read_text()
    assert created["api_key"] not in text and "a-long-enough-password" not in text


def test_serve_refuses_no_auth_off_loopback(tmp_path):
    r = runner.invoke(
        app,
        ["serve", "--host", "0.0.0.0", "--port", "1"],
        env={"CODEWEAVER_HOME": str(tmp_path), "CODEWEAVER_AUTH__MODE": "none"},
    )
    assert r.exit_code == 2 and "only allowed on a loopback address" in r.output


def test_cors_is_off_unless_configured(tmp_path):
    async def preflight(settings: Settings) -> httpx.Response:
        eng = build_engine(settings, embedder=HashEmbedder())
        api = create_app(settings, eng, auth_mode="none")
        try:
            async with api.router.lifespan_context(api):
                transport = httpx.ASGITransport(app=api)
                async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                    return await c.options(
                        "/api/v1/search",
                        headers={
                            "Origin": "https://app.example",
                            "Access-Control-Request-Method": "POST",
                        },
                    )
        finally:
            eng.close()

    off = asyncio.run(preflight(Settings(home=tmp_path / "a")))
    assert "access-control-allow-origin" not in off.headers
    on = asyncio.run(
        preflight(Settings(home=tmp_path / "b", auth={"cors_origins": ["https://app.example"]}))
    )
    assert on.headers["access-control-allow-origin"] == "https://app.example"
    assert re.search("POST", on.headers["access-control-allow-methods"])


def test_request_state_names_the_caller_and_tenant(tmp_path):
    from codeweaver.auth.admin import Admin
    from codeweaver.auth.audit import AuditLog
    from codeweaver.auth.rbac import Roles
    from codeweaver.auth.setup import open_store

    settings = Settings(home=tmp_path / "home", auth={"secret": "x" * 40})
    store = open_store(settings)
    Admin(store, Roles(), AuditLog(None), "test").add_user(
        "alice", "developer", "acme", "a-long-enough-password"
    )
    store.db.close()
    seen: list[tuple[str, str]] = []

    def capture(inner):
        async def asgi(scope, receive, send):
            await inner(scope, receive, send)
            if scope["type"] == "http":
                seen.append((scope["state"]["user"], scope["state"]["tenant_id"]))

        return asgi

    async def scenario(mode: str) -> None:
        eng = build_engine(settings, embedder=HashEmbedder())
        api = create_app(settings, eng, auth_mode=mode, mount_mcp=False)
        try:
            async with api.router.lifespan_context(api):
                transport = httpx.ASGITransport(app=capture(api))
                async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                    headers = {}
                    if mode == "jwt":
                        r = await c.post(
                            "/auth/token",
                            json={"username": "alice", "password": "a-long-enough-password"},
                        )
                        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
                    assert (await c.get("/api/v1/projects", headers=headers)).status_code == 200
                    assert (await c.get("/api/v1/projects")).status_code in (200, 401)
        finally:
            eng.close()

    asyncio.run(scenario("jwt"))
    assert seen == [("anonymous", "-"), ("alice", "acme"), ("anonymous", "-")]
    seen.clear()
    asyncio.run(scenario("none"))
    assert seen == [("local", "default"), ("local", "default")]
