"""The Redis level-2 cache against real ``redis-server`` processes: contract, outage and
recovery, slowness, eviction, and two ``codeweaver serve`` processes sharing it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

import httpx
import pytest

from cache_services import RedisServer, free_port, redis_server  # noqa: F401
from codeweaver.adapters.redis_cache import RedisCache
from codeweaver.config import Settings
from codeweaver.container import build_engine
from codeweaver.search.service import SearchRequest
from embedder_twin import HashEmbedder
from net_helpers import wait_http
from sample_code import UPLOAD_PY

PY = UPLOAD_PY


@pytest.fixture
def cache(redis_server):  # noqa: F811
    c = RedisCache(redis_server.url)
    c.clear("")
    yield c
    c.clear("")
    c.close()


def test_get_set_ttl_and_clear(cache, redis_server):  # noqa: F811
    cache.set("cw:res:a:1", b"one", 60)
    cache.set("cw:res:b:1", b"two", 0.05)
    cache.set("cw:emb:x", b"\x00\x01", 60)
    assert cache.get("cw:res:a:1") == b"one" and cache.get("missing") is None
    time.sleep(0.1)
    assert cache.get("cw:res:b:1") is None  # expired in Redis
    assert cache.clear("cw:res:") == 1 and cache.get("cw:emb:x") == b"\x00\x01"
    assert cache.health() == ("healthy", f"shared cache redis://127.0.0.1:{redis_server.port}")


def test_outage_falls_back_warns_once_and_recovers(tmp_path, caplog):
    server = RedisServer(tmp_path / "r")
    cache = RedisCache(server.url, retry_interval=0.2)
    try:
        cache.set("k", b"v", 60)
        server.kill()
        caplog.set_level(logging.WARNING, logger="codeweaver.cache")
        started = time.perf_counter()
        for _ in range(50):
            assert cache.get("k") is None
            cache.set("k2", b"v", 60)
        assert time.perf_counter() - started < 1.0  # no waiting on a dead server
        status, detail = cache.health()
        assert status == "degraded" and "unreachable" in detail
        warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
        assert len(warnings) == 1 and cache.outages == 1
        server.start()
        deadline = time.monotonic() + 5
        while cache.health()[0] != "healthy":
            assert time.monotonic() < deadline, "cache did not reconnect"
            time.sleep(0.05)
        cache.set("k3", b"back", 60)
        assert cache.get("k3") == b"back"
        assert any("is back" in r.getMessage() for r in caplog.records)
    finally:
        cache.close()
        server.stop()


def test_slow_redis_times_out_within_50ms(tmp_path):
    server = RedisServer(tmp_path / "r", "--enable-debug-command", "yes")
    cache = RedisCache(server.url, retry_interval=0.2)
    try:
        cache.set("k", b"v", 60)
        sleeper = threading.Thread(
            target=lambda: server.client().execute_command("DEBUG", "SLEEP", "2")
        )
        sleeper.start()
        time.sleep(0.05)
        started = time.perf_counter()
        assert cache.get("k") is None
        assert time.perf_counter() - started < 0.5  # gave up long before Redis answered
        assert cache.health()[0] == "degraded"
        sleeper.join()
        time.sleep(0.3)
        assert cache.get("k") == b"v" and cache.health()[0] == "healthy"
    finally:
        cache.close()
        server.stop()


def test_eviction_under_maxmemory(tmp_path):
    server = RedisServer(tmp_path / "r", "--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")
    cache = RedisCache(server.url, timeout=0.5)
    try:
        value = os.urandom(4096)
        for i in range(2000):  # ~8 MB into a 2 MB Redis
            cache.set(f"cw:emb:{i}", value, 3600)
        assert cache.available and cache.get("cw:emb:1999") == value
        info = cache.info()
        assert info["keys"] < 1000 and info["used_memory"] < 3 * 1024 * 1024
        assert sum(cache.get(f"cw:emb:{i}") is not None for i in range(100)) < 10
    finally:
        cache.close()
        server.stop()


def test_engines_share_embeddings_and_results(tmp_path, redis_server):  # noqa: F811
    RedisCache(redis_server.url).clear("")
    root = tmp_path / "svc"
    root.mkdir()
    (root / "upload.py").write_text(PY)
    engines, inners = [], []
    for name in ("a", "b"):
        settings = Settings(home=tmp_path / name, redis={"url": redis_server.url})
        inners.append(HashEmbedder())
        engines.append(build_engine(settings, embedder=inners[-1]))
    a, b = engines
    a.index(root, "svc")
    b.index(root, "svc")
    assert inners[0].texts == 2 and inners[1].texts == 0  # b found every vector in Redis
    req = SearchRequest("retry a failed upload")
    first = a.search(req, "svc")
    assert b.search(req, "svc").hits == first.hits
    assert b.cache_stats()["results"] == {**b.cache_stats()["results"], "hits": 1, "misses": 0}
    for engine in engines:
        engine.close()


# -------------------------------------------------------- two server processes
def _start_serve(home, port, redis_url, log_path):
    env = {
        **os.environ,
        "CODEWEAVER_HOME": str(home),
        "CODEWEAVER_REDIS__URL": redis_url,
        "CODEWEAVER_REDIS__RETRY_SECONDS": "0.2",
        "PYTHONUNBUFFERED": "1",
    }
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)],
        cwd=home.parent,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc, log


def _index(c: httpx.Client, path) -> None:
    job = c.post("/api/v1/index", json={"path": str(path)}).json()["job_id"]
    deadline = time.monotonic() + 90
    while (state := c.get(f"/api/v1/jobs/{job}").json())["state"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert state["state"] == "succeeded", state


def test_two_servers_share_redis_and_survive_its_outage(tmp_path):
    redis = RedisServer(tmp_path / "redis")
    root = tmp_path / "svc"
    root.mkdir()
    (root / "upload.py").write_text(PY)
    procs = []
    try:
        bases = []
        for name in ("a", "b"):
            port = free_port()
            proc, log = _start_serve(tmp_path / name, port, redis.url, tmp_path / f"{name}.log")
            procs.append((proc, log))
            bases.append(f"http://127.0.0.1:{port}")
            wait_http(f"{bases[-1]}/health/ready", proc, tmp_path / f"{name}.log")
        with (
            httpx.Client(base_url=bases[0], timeout=30) as a,
            httpx.Client(base_url=bases[1], timeout=30) as b,
        ):
            _index(a, root)
            before = b.get("/api/v1/cache").json()["stats"]["embedding"]["misses"]
            _index(b, root)
            after = b.get("/api/v1/cache").json()
            assert after["stats"]["embedding"]["misses"] == before  # all from Redis
            assert after["shared"]["status"] == "healthy"
            query = {"query": "retry a failed upload", "limit": 2}
            ra = a.post("/api/v1/search", json=query).json()
            rb = b.post("/api/v1/search", json=query).json()
            assert rb["results"] == ra["results"]
            assert b.get("/api/v1/cache").json()["stats"]["results"]["hits"] == 1

            redis.kill()
            r = a.post("/api/v1/search", json={"query": "parse config text"})
            assert r.status_code == 200 and r.json()["results"]
            health = a.get("/api/v1/health").json()
            assert health["components"]["cache"]["status"] == "degraded"
            assert health["status"] == "degraded"
            assert a.get("/health/ready").status_code == 200
            redis.start()
            deadline = time.monotonic() + 10
            while a.get("/api/v1/health").json()["components"]["cache"]["status"] != "healthy":
                assert time.monotonic() < deadline, "server did not reconnect to Redis"
                time.sleep(0.1)
            log_a = (tmp_path / "a.log").read_text()
            assert log_a.count("unavailable") == 1, log_a
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
            log.close()
        redis.stop()
