"""Index jobs over the HTTP API: states, progress, one writer per project, live searches."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from codeweaver.config import Settings
from codeweaver.container import build_engine
from codeweaver.workers.jobs import JobManager
from embedder_twin import HashEmbedder
from test_api import assert_error, client_for, wait_job


class GatedEmbedder(HashEmbedder):
    """Blocks document embedding until the gate opens (search queries never block)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()

    def embed_documents(self, texts):
        self.waiting.set()
        assert self.gate.wait(30), "gate never opened"
        return super().embed_documents(texts)


@pytest.fixture
def gated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "app"
    root.mkdir()
    for i in range(5):
        (root / f"m{i}.py").write_text(f"def handler_{i}(request):\n    return {i}\n")
    settings = Settings(home=tmp_path / "home")
    embedder = GatedEmbedder()
    engine = build_engine(settings, embedder=embedder)
    yield settings, engine, root, embedder
    embedder.gate.set()
    engine.close()


def test_index_job_lifecycle(gated):
    settings, engine, root, _ = gated

    async def scenario() -> None:
        async with client_for(settings, engine) as c:
            r = await c.post("/api/v1/index", json={"path": str(root), "project": "app"})
            assert r.status_code == 202 and r.json()["state"] in ("queued", "running")
            job = await wait_job(c, r.json()["job_id"])
            assert job["state"] == "succeeded", job
            assert job["files_done"] == job["files_total"] == 5
            assert job["chunks"] == 5 and job["errors"] == []
            assert job["project"] == "app" and job["stats"]["files_indexed"] == 5
            r = await c.post("/api/v1/search", json={"query": "handler_3", "limit": 1})
            assert r.json()["results"][0]["symbol"] == "handler_3"

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"path": ""},
        {"path": 7},
        {"path": "/definitely/not/here"},
        {"path": "a\x00b"},
        {"path": ".", "project": "../x"},
        {"path": ".", "project": "has space"},
        {"path": ".", "full": "yes"},
        {"path": "x" * 5000},
    ],
)
def test_index_bad_input(gated, body):
    settings, engine, *_ = gated

    async def scenario() -> None:
        async with client_for(settings, engine) as c:
            r = await c.post("/api/v1/index", json=body)
            assert_error(r, 422, "invalid_input")

    asyncio.run(scenario())


def test_index_a_file_is_refused_and_unknown_job_404(gated):
    settings, engine, root, _ = gated

    async def scenario() -> None:
        async with client_for(settings, engine) as c:
            r = await c.post("/api/v1/index", json={"path": str(root / "m1.py")})
            assert "not a folder" in assert_error(r, 422)["message"]
            assert_error(await c.get("/api/v1/jobs/unknown"), 404, "not_found")
            assert_error(await c.get("/api/v1/jobs/" + "x" * 100), 422)

    asyncio.run(scenario())


def test_one_writer_per_project_and_searches_keep_answering(gated):
    settings, engine, root, embedder = gated
    engine.index(root, "app")
    (root / "m9.py").write_text("def fresh_handler(request):\n    return 9\n")
    embedder.gate.clear()
    embedder.waiting.clear()

    async def scenario() -> None:
        async with client_for(settings, engine) as c:
            first = (await c.post("/api/v1/index", json={"path": str(root)})).json()
            second = (await c.post("/api/v1/index", json={"path": str(root), "full": True})).json()
            assert first["project"] == second["project"] == "app"
            assert await asyncio.to_thread(embedder.waiting.wait, 10)
            job1 = (await c.get(f"/api/v1/jobs/{first['job_id']}")).json()
            job2 = (await c.get(f"/api/v1/jobs/{second['job_id']}")).json()
            assert job1["state"] == "running" and job2["state"] == "queued"
            started = time.monotonic()
            r = await c.post("/api/v1/search", json={"query": "handler_2", "project": "app"})
            assert r.status_code == 200 and r.json()["results"][0]["symbol"] == "handler_2"
            assert time.monotonic() - started < 5
            assert (await c.get("/api/v1/projects/app")).status_code == 200
            r = await c.delete("/api/v1/projects/app")
            assert_error(r, 409, "indexing_failed")
            embedder.gate.set()
            done1 = await wait_job(c, first["job_id"])
            done2 = await wait_job(c, second["job_id"])
            assert done1["state"] == done2["state"] == "succeeded"
            assert done1["finished_at"] <= done2["started_at"]
            assert done2["stats"]["files_indexed"] == 6
            r = await c.post("/api/v1/search", json={"query": "fresh_handler", "project": "app"})
            assert r.json()["results"][0]["symbol"] == "fresh_handler"

    asyncio.run(scenario())


def test_stop_interrupts_running_and_fails_queued_jobs(gated):
    _, engine, root, embedder = gated
    jobs = JobManager(engine, workers=1)
    jobs.start()
    embedder.gate.clear()
    running = jobs.submit(str(root), "app")
    assert embedder.waiting.wait(10)
    queued = jobs.submit(str(root), "other")
    threading.Timer(0.2, embedder.gate.set).start()
    assert jobs.stop(timeout=10)
    assert jobs.get(queued.id)["state"] == "failed"
    state = jobs.get(running.id)
    assert state["state"] in ("failed", "succeeded")
    with pytest.raises(Exception, match="shutting down"):
        jobs.submit(str(root), "app")
    # the interrupted project is consistent: a new run completes it
    assert engine.index(root, "app").files_total == 5


def test_unexpected_embedder_failure_marks_job_failed(gated):
    settings, engine, root, embedder = gated

    def broken(texts):
        raise RuntimeError("gpu on fire")

    embedder.embed_documents = broken

    async def scenario() -> None:
        async with client_for(settings, engine) as c:
            r = await c.post("/api/v1/index", json={"path": str(root)})
            job = await wait_job(c, r.json()["job_id"])
            assert job["state"] == "failed"
            assert any("gpu on fire" in e["reason"] for e in job["errors"])

    asyncio.run(scenario())
