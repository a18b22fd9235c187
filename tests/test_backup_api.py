"""Backup admin routes and scheduled backups in the HTTP app (real engine, httpx/ASGI)."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager

import httpx
import pytest

from backup_support import archive_path, make_codebase, manifest_path, verified_path
from codeweaver.api import create_app
from codeweaver.config import Settings
from codeweaver.container import build_engine
from embedder_twin import HashEmbedder
from net_helpers import free_port


@pytest.fixture
def served(tmp_path):
    make_codebase(tmp_path / "code", files=8)
    dest = tmp_path / "vault"

    def make(**backup):
        settings = Settings(home=tmp_path / "home", backup={"dest": dest.as_uri(), **backup})
        engine = build_engine(settings, embedder=HashEmbedder())
        engine.index(tmp_path / "code", "proj")
        return settings, engine

    engines = []

    def factory(**backup):
        settings, engine = make(**backup)
        engines.append(engine)
        return settings, engine, dest

    yield factory
    for engine in engines:
        engine.close()


@asynccontextmanager
async def client_for(settings, engine):
    app = create_app(settings, engine, mount_mcp=False, auth_mode="none")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


def test_create_list_verify_over_http(served):
    settings, engine, dest = served()

    async def go():
        async with client_for(settings, engine) as c:
            r = await c.post(
                "/api/v1/admin/backups", json={"components": ["collections"], "wait": True}
            )
            assert r.status_code == 201, r.text
            made = r.json()
            assert made["verification"]["ok"] and made["points"] == 32
            assert made["components"] == ["collections", "manifests"]
            # searches still work on the live engine after the backup
            s = await c.post("/api/v1/search", json={"query": "retry upload", "project": "proj"})
            assert s.status_code == 200 and s.json()["results"]
            listed = (await c.get("/api/v1/admin/backups")).json()["backups"]
            assert [b["backup_id"] for b in listed] == [made["backup_id"]]
            v = await c.post(f"/api/v1/admin/backups/{made['backup_id']}/verify")
            assert v.status_code == 200 and v.json()["ok"]
            archive = archive_path(dest, made["backup_id"])
            archive.write_bytes(archive.read_bytes()[:-10])
            v = await c.post(f"/api/v1/admin/backups/{made['backup_id']}/verify")
            assert v.status_code == 200 and not v.json()["ok"] and v.json()["problems"]
            bad = await c.post("/api/v1/admin/backups/..%2Fetc/verify")
            assert bad.status_code in (404, 422)
            missing = await c.post("/api/v1/admin/backups/20260101T000000Z-abcdef/verify")
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
            r = await c.post("/api/v1/admin/backups", json={"components": ["nope"]})
            assert r.status_code == 422 and "unknown backup component" in r.text
            r = await c.post("/api/v1/admin/backups", json={"dest": "file:///etc"})
            assert r.status_code == 422

    asyncio.run(go())
    audit = [json.loads(x) for x in (settings.home / "audit.log").read_text().splitlines()]
    events = [(a["event"], a["outcome"]) for a in audit if a["event"].startswith("admin.")]
    assert ("admin.backup.create", "success") in events
    assert ("admin.backup.verify", "success") in events
    assert ("admin.backup.verify", "failure") in events  # the truncated archive
    assert ("admin.backup.create", "failure") in events  # the unknown component


def test_backup_jobs_over_http(served):
    settings, engine, dest = served()

    async def go():
        async with client_for(settings, engine) as c:
            r = await c.post("/api/v1/admin/backups", json={"project": "proj"})
            assert r.status_code == 202, r.text
            job = r.json()
            url = job["status_url"]
            assert job["state"] == "running" and r.headers["location"] == url
            busy = await c.post("/api/v1/admin/backups", json={})
            assert busy.status_code == 503 and job["job_id"] in busy.text
            # searches keep answering while the backup runs
            s = await c.post("/api/v1/search", json={"query": "retry upload", "project": "proj"})
            assert s.status_code == 200 and s.json()["results"]
            deadline = time.monotonic() + 120
            while job["state"] == "running" and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                got = await c.get(url)
                assert got.status_code == 200
                job = got.json()
            assert job["state"] == "succeeded", job
            assert job["result"]["verification"]["ok"] and job["result"]["points"] == 32
            assert (manifest_path(dest, job["result"]["backup_id"])).is_file()
            missing = await c.get("/api/v1/admin/backups/jobs/bkj_0000")
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
            bad = await c.post("/api/v1/admin/backups", json={"project": "nope"})
            assert bad.status_code == 422 and "unknown project" in bad.text
            return job

    job = asyncio.run(go())
    audit = [json.loads(x) for x in (settings.home / "audit.log").read_text().splitlines()]
    creates = [a for a in audit if a["event"] == "admin.backup.create"]
    done = [a for a in creates if a.get("job_id") == job["job_id"]]
    assert len(done) == 1 and done[0]["outcome"] == "success"
    assert done[0]["backup_id"] == job["result"]["backup_id"]
    assert sum(a["outcome"] == "failure" for a in creates) == 2  # busy, unknown project


def test_scheduled_backups_run_in_serve_and_prune(served):
    settings, engine, dest = served(
        interval_hours=0.5 / 3600, keep_days=0, keep_last=2, max_mb_per_second=0
    )

    seen: set[str] = set()

    async def go():
        async with client_for(settings, engine):
            deadline = time.monotonic() + 120
            while len(seen) < 4 and time.monotonic() < deadline:
                seen.update(_complete(dest))
                await asyncio.sleep(0.1)

    asyncio.run(go())
    assert len(seen) >= 4
    # the scheduler is stopped; a backup it had started still finishes its verification
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(
        (verified_path(dest, bid)).is_file() for bid in _complete(dest)
    ):
        time.sleep(0.2)
    # retention ran after each backup: the oldest are gone, the newest kept
    left = _complete(dest)
    assert min(seen) not in left and 1 <= len(left) <= 3
    for bid in left:
        assert json.loads((verified_path(dest, bid)).read_text())["ok"]


def _complete(dest) -> list[str]:
    if not (dest / "manifests").is_dir():
        return []
    return sorted(
        p.name.removeprefix("manifest-").removesuffix(".json")
        for p in (dest / "manifests").glob("manifest-*.json")
    )


def test_no_scheduler_unless_configured(served):
    settings, engine, dest = served()

    async def go():
        async with client_for(settings, engine):
            await asyncio.sleep(0.5)

    asyncio.run(go())
    assert not dest.exists()


def test_metrics_component_over_http_with_prometheus_down(served):
    dead = f"http://127.0.0.1:{free_port()}"  # closed: nothing listens there
    settings, engine, dest = served(prometheus_url=dead)

    async def go():
        async with client_for(settings, engine) as c:
            asked = {"components": ["metrics"], "wait": True}
            r = await c.post("/api/v1/admin/backups", json=asked)
            assert r.status_code == 503 and f"cannot reach Prometheus at {dead}" in r.text
            r = await c.post("/api/v1/admin/backups", json={"components": ["metrics"]})
            assert r.status_code == 202, r.text
            job = r.json()
            while job["state"] == "running":
                await asyncio.sleep(0.1)
                job = (await c.get(f"/api/v1/admin/backups/jobs/{job['job_id']}")).json()
            assert job["state"] == "failed" and f"cannot reach Prometheus at {dead}" in job["error"]
            r = await c.post(
                "/api/v1/admin/backups", json={"wait": True}
            )  # the default tolerates it
            assert r.status_code == 201, r.text
            made = r.json()
            assert made["verification"]["ok"] and "metrics" not in made["components"]
            assert any(f"cannot reach Prometheus at {dead}" in n for n in made["notes"])

    asyncio.run(go())
    assert len(_complete(dest)) == 1


def test_scheduled_backups_go_on_while_prometheus_is_down(served):
    dead = f"http://127.0.0.1:{free_port()}"
    settings, engine, dest = served(interval_hours=0.5 / 3600, prometheus_url=dead)

    async def go():
        async with client_for(settings, engine):
            deadline = time.monotonic() + 120
            while not _complete(dest) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)

    asyncio.run(go())
    bid = _complete(dest)[0]
    manifest = json.loads((manifest_path(dest, bid)).read_text())
    assert manifest["components"] == ["collections", "manifests", "identity", "settings"]
    assert any("cannot reach Prometheus" in n for n in manifest["notes"])


def test_metrics_without_a_prometheus_is_invalid_input_over_http(served):
    settings, engine, dest = served()

    async def go():
        async with client_for(settings, engine) as c:
            r = await c.post("/api/v1/admin/backups", json={"components": ["metrics"]})
            assert r.status_code == 422 and "backup.prometheus_url" in r.text, r.text

    asyncio.run(go())
    assert not _complete(dest)
