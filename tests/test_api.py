"""The HTTP API in process: real engine (hash embedder twin), real store, httpx over ASGI."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from codeweaver.api import create_app
from codeweaver.api.routes import ROUTES
from codeweaver.config import Settings
from codeweaver.container import build_engine
from embedder_twin import HashEmbedder

README = Path(__file__).resolve().parents[1] / "README.md"

PY = '''"""Upload helpers."""


class Uploader:
    def upload_with_retry(self, path, attempts=3):
        for attempt in range(attempts):
            return self.client.put(path)


def parse_config(text):
    values = {}
    return values
'''
GO = "package server\n\nfunc listen(port int) error { return nil }\n"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "shop"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg/upload.py").write_text(PY)
    (root / "server.go").write_text(GO)
    settings = Settings(home=tmp_path / "home")
    engine = build_engine(settings, embedder=HashEmbedder())
    yield settings, engine, root
    engine.close()


@asynccontextmanager
async def client_for(settings, engine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine, auth_mode="none")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


def run(env, scenario: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
    settings, engine, _ = env

    async def main() -> None:
        async with client_for(settings, engine) as client:
            await scenario(client)

    asyncio.run(main())


def assert_error(resp: httpx.Response, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "request_id"}
    assert body["error"]["request_id"] == resp.headers["x-request-id"]
    assert "Traceback" not in resp.text
    if code:
        assert body["error"]["code"] == code
    return body["error"]


async def wait_job(client: httpx.AsyncClient, job_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = (await client.get(f"/api/v1/jobs/{job_id}")).json()
        if job["state"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish")


# ------------------------------------------------------------------------ health
def test_health_routes(env):
    async def scenario(c: httpx.AsyncClient) -> None:
        r = await c.get("/health")
        assert r.status_code == 200 and r.json()["status"] == "healthy"
        assert set(r.json()["components"]) == {
            "vector_store",
            "embedder",
            "index_freshness",
            "disk_space",
            "cache",
        }
        r = await c.get("/api/v1/health")
        comp = r.json()["components"]["embedder"]
        assert comp["status"] == "healthy" and comp["latency_ms"] >= 0 and comp["detail"]
        assert (await c.get("/health/live")).json() == {"status": "alive"}
        r = await c.get("/health/ready")
        assert r.status_code == 200 and r.json()["status"] == "ready"

    run(env, scenario)


def test_unhealthy_embedder_gives_503(env):
    _, engine, _ = env

    def broken(_text: str) -> list[float]:
        raise RuntimeError("model gone")

    engine.embedder.embed_query = broken  # type: ignore[method-assign]

    async def scenario(c: httpx.AsyncClient) -> None:
        r = await c.get("/health")
        assert r.status_code == 503 and r.json()["status"] == "unhealthy"
        r = await c.get("/api/v1/health")
        assert "model gone" in r.json()["components"]["embedder"]["detail"]
        assert (await c.get("/health/ready")).status_code == 503
        assert (await c.get("/health/live")).status_code == 200

    run(env, scenario)


# ------------------------------------------------------------------------ search
def test_search_default_project_and_filters(env):
    _, engine, root = env
    engine.index(root)

    async def scenario(c: httpx.AsyncClient) -> None:
        r = await c.post("/api/v1/search", json={"query": "test", "limit": 1})
        assert r.status_code == 200, r.text
        assert len(r.json()["results"]) <= 1 and r.json()["took_ms"] >= 0
        r = await c.post("/api/v1/search", json={"query": "parse_config", "project": "shop"})
        top = r.json()["results"][0]
        assert set(top) >= {"path", "start_line", "end_line", "symbol", "kind", "language"}
        assert (top["symbol"], top["path"]) == ("parse_config", "pkg/upload.py")
        r = await c.post("/api/v1/search", json={"query": "listen", "language": "go"})
        assert {h["language"] for h in r.json()["results"]} == {"go"}
        r = await c.post("/api/v1/search", json={"query": "retry", "path": "pkg/"})
        assert {h["path"] for h in r.json()["results"]} == {"pkg/upload.py"}

    run(env, scenario)


def test_search_without_projects_and_with_several(env, tmp_path):
    _, engine, root = env

    async def none(c: httpx.AsyncClient) -> None:
        assert_error(await c.post("/api/v1/search", json={"query": "x"}), 404, "not_found")

    run(env, none)
    engine.index(root)
    other = tmp_path / "other"
    other.mkdir()
    (other / "b.py").write_text("def b():\n    pass\n")
    engine.index(other)

    async def several(c: httpx.AsyncClient) -> None:
        err = assert_error(await c.post("/api/v1/search", json={"query": "x"}), 422)
        assert "several projects" in err["message"]
        r = await c.post("/api/v1/search", json={"query": "x", "project": "nope"})
        assert "unknown project" in assert_error(r, 404, "not_found")["message"]

    run(env, several)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"limit": 3},
        {"query": ""},
        {"query": "x" * 2001},
        {"query": 5},
        {"query": ["a"]},
        {"query": None},
        {"query": "x", "limit": 0},
        {"query": "x", "limit": 101},
        {"query": "x", "limit": "5"},
        {"query": "x", "limit": 1.5},
        {"query": "x", "limit": True},
        {"query": "x", "project": "../../etc"},
        {"query": "x", "project": ""},
        {"query": "x", "project": "p" * 65},
        {"query": "a\x00b"},
        {"query": "x", "unexpected": 1},
        {"query": "x", "language": 3},
        [],
        "just a string",
    ],
)
def test_search_bad_bodies(env, body):
    env[1].index(env[2])

    async def scenario(c: httpx.AsyncClient) -> None:
        r = await c.post("/api/v1/search", json=body)
        assert r.status_code in (400, 404, 422), r.text
        assert_error(r, r.status_code)

    run(env, scenario)


def test_malformed_and_oversized_bodies(env):
    async def scenario(c: httpx.AsyncClient) -> None:
        headers = {"content-type": "application/json"}
        r = await c.post("/api/v1/search", content=b"{not json", headers=headers)
        assert_error(r, 422, "invalid_input")
        big = b'{"query": "' + b"a" * (1024 * 1024 + 10) + b'"}'
        assert_error(await c.post("/api/v1/search", content=big, headers=headers), 413)

        async def stream() -> AsyncIterator[bytes]:  # no Content-Length: streamed size
            for _ in range(20):
                yield b"a" * 65536

        r = await c.post("/api/v1/search", content=stream(), headers=headers)
        assert_error(r, 413, "payload_too_large")
        r = await c.post("/api/v1/search", content=b"{}", headers={"content-length": "abc"})
        assert r.status_code in (400, 422)

    run(env, scenario)


def test_request_id_echoed_or_generated(env):
    async def scenario(c: httpx.AsyncClient) -> None:
        r = await c.get("/health/live", headers={"X-Request-ID": "abc-123"})
        assert r.headers["x-request-id"] == "abc-123"
        r = await c.get("/health/live")
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
        r = await c.get("/health/live", headers={"X-Request-ID": "bad id\twith spaces"})
        assert r.headers["x-request-id"] != "bad id\twith spaces"
        r = await c.get("/api/v1/nowhere", headers={"X-Request-ID": "req-9"})
        assert assert_error(r, 404, "not_found")["request_id"] == "req-9"
        assert_error(await c.delete("/health"), 405, "method_not_allowed")

    run(env, scenario)


def test_unexpected_error_is_a_json_500(env):
    _, engine, root = env
    engine.index(root)

    def boom(*_a: object, **_k: object) -> None:
        raise ValueError("secret internals")

    engine.list_projects = boom  # type: ignore[method-assign]

    async def scenario(c: httpx.AsyncClient) -> None:
        err = assert_error(await c.get("/api/v1/projects"), 500, "internal_error")
        assert "secret" not in err["message"]

    run(env, scenario)


# ------------------------------------------------------------------- projects
def test_projects_routes(env):
    _, engine, root = env
    engine.index(root)

    async def scenario(c: httpx.AsyncClient) -> None:
        r = await c.get("/api/v1/projects")
        assert [p["project"] for p in r.json()["projects"]] == ["shop"]
        r = await c.get("/api/v1/projects/shop")
        assert r.json()["files"] == 2 and r.json()["state"] == "complete"
        assert_error(await c.get("/api/v1/projects/nope"), 404, "not_found")
        assert_error(await c.get("/api/v1/projects/..%2Fetc"), 404)
        assert_error(await c.get("/api/v1/projects/bad%20name"), 422)
        assert_error(await c.delete("/api/v1/projects/nope"), 404)
        r = await c.delete("/api/v1/projects/shop")
        assert r.status_code == 200 and r.json() == {"removed": "shop"}
        assert (await c.get("/api/v1/projects")).json() == {"projects": []}
        assert_error(await c.get("/api/v1/projects/shop"), 404)

    run(env, scenario)


def test_file_slices_and_traversal(env, tmp_path):
    _, engine, root = env
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    engine.index(root)
    (root / "pkg/link.py").symlink_to(secret)  # appears after indexing
    url = "/api/v1/projects/shop/files"

    async def scenario(c: httpx.AsyncClient) -> None:
        r = await c.get(url, params={"path": "pkg/upload.py", "start_line": 4, "end_line": 5})
        body = r.json()
        assert r.status_code == 200 and body["content"].splitlines()[0] == "class Uploader:"
        assert (body["start_line"], body["end_line"], body["total_lines"]) == (4, 5, 12)
        r = await c.get(url, params={"path": "server.go"})
        assert r.json()["content"].startswith("package server")
        r = await c.get(url, params={"path": "pkg/upload.py", "end_line": 999})
        assert r.json()["end_line"] == 12
        for bad in ["../secret.txt", "pkg/../../secret.txt", str(secret), "/etc/passwd", "a\\b"]:
            assert_error(await c.get(url, params={"path": bad}), 422)
        assert_error(await c.get(url, params={"path": "pkg/link.py"}), 404)
        assert_error(await c.get(url, params={"path": "missing.py"}), 404)
        assert_error(await c.get(url), 422)
        assert_error(await c.get(url, params={"path": "server.go", "start_line": 0}), 422)
        assert_error(await c.get(url, params={"path": "server.go", "start_line": "x"}), 422)
        r = await c.get(url, params={"path": "server.go", "start_line": 3, "end_line": 2})
        assert_error(r, 422)
        assert_error(await c.get(url, params={"path": "server.go", "start_line": 99}), 422)
        r = await c.get("/api/v1/projects/nope/files", params={"path": "server.go"})
        assert_error(r, 404)

    run(env, scenario)


def test_symlink_escape_in_manifest_is_refused(env, tmp_path):
    _, engine, root = env
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "leak.py").write_text("def leak():\n    return 'secret'\n")
    os.symlink(outside, root / "linked")
    engine.index(root)
    _, known = engine.indexed_paths("shop")

    async def scenario(c: httpx.AsyncClient) -> None:
        for path in [p for p in known if p.startswith("linked/")] or ["linked/leak.py"]:
            r = await c.get("/api/v1/projects/shop/files", params={"path": path})
            assert r.status_code in (404, 422) and "secret" not in r.text

    run(env, scenario)


# --------------------------------------------------------------- structural
def test_structural_search(env):
    _, engine, root = env
    engine.index(root)
    url = "/api/v1/structural-search"

    async def scenario(c: httpx.AsyncClient) -> None:
        r = await c.post(url, json={"pattern": "def $F($$$A): $$$B", "language": "python"})
        matches = r.json()["matches"]
        assert r.status_code == 200 and {m["path"] for m in matches} == {"pkg/upload.py"}
        first = next(m for m in matches if m["text"].startswith("def parse_config"))
        assert (first["start_line"], first["end_line"]) == (10, 12)
        r = await c.post(url, json={"pattern": "func $F($$$) $R { $$$ }", "language": "go"})
        assert [m["path"] for m in r.json()["matches"]] == ["server.go"]
        r = await c.post(url, json={"pattern": "$X", "language": "python", "limit": 3})
        assert len(r.json()["matches"]) == 3 and r.json()["truncated"] is True
        assert_error(await c.post(url, json={"pattern": "x", "language": "cobol"}), 422)
        assert_error(await c.post(url, json={"pattern": "$$$", "language": "python"}), 422)
        assert_error(await c.post(url, json={"pattern": "", "language": "python"}), 422)
        assert_error(await c.post(url, json={"pattern": "x"}), 422)
        r = await c.post(url, json={"pattern": "x", "language": "python", "limit": 201})
        assert_error(r, 422)
        r = await c.post(url, json={"pattern": "x", "language": "python", "project": "nope"})
        assert_error(r, 404)

    run(env, scenario)


def test_readme_lists_every_route():
    text = README.read_text(encoding="utf-8")
    section = text.split("## HTTP API", 1)[1].split("\n## ", 1)[0]
    for route in ROUTES:
        assert f"| `{route.method}` | `{route.path}` |" in section, route.path


def test_routes_table_is_what_the_app_serves(env):
    settings, engine, _ = env
    app = create_app(settings, engine, auth_mode="none")
    served = {
        (m, r.path)
        for r in app.routes
        if getattr(r, "methods", None) and not r.path.startswith(("/docs", "/openapi", "/redoc"))
        for m in r.methods - {"HEAD"}
    }
    assert served == {(r.method, r.path) for r in ROUTES}


def test_health_store_failure_and_low_disk(env, monkeypatch):
    _, engine, root = env
    engine.index(root)
    real_list = engine.list_projects

    def broken() -> list:
        raise OSError("shard unreadable")

    async def scenario(c: httpx.AsyncClient) -> None:
        engine.list_projects = broken  # type: ignore[method-assign]
        r = await c.get("/api/v1/health")
        assert r.status_code == 503 and r.json()["status"] == "unhealthy"
        assert r.json()["components"]["vector_store"]["status"] == "unhealthy"
        assert (await c.get("/health/ready")).status_code == 503
        engine.list_projects = real_list  # type: ignore[method-assign]

        usage = shutil.disk_usage(root)
        low = usage._replace(free=500 * 1024**2)
        monkeypatch.setattr("codeweaver.api.health.shutil.disk_usage", lambda _p: low)
        r = await c.get("/health")
        assert r.status_code == 200 and r.json()["status"] == "degraded"
        assert r.json()["components"]["disk_space"] == "degraded"

    run(env, scenario)
