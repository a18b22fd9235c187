"""Metrics, logs, health registry and memory diagnostics through the real app (in process)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from codeweaver.api import create_app
from codeweaver.api.health import register_health_check
from codeweaver.config import Settings
from codeweaver.container import build_engine
from codeweaver.errors import StoreError
from codeweaver.telemetry.instrumented import InstrumentedEmbedder, InstrumentedStore
from codeweaver.telemetry.logs import ConsoleFormatter, ContextFilter, JsonFormatter
from codeweaver.telemetry.metrics import METRICS, Metrics
from codeweaver.types import StoreQuery
from embedder_twin import HashEmbedder
from store_twin import MemoryStore

README = Path(__file__).resolve().parents[1] / "README.md"
LOG_KEYS = {
    "timestamp", "level", "logger", "message", "request_id", "tenant_id", "user", "method",
    "route", "status", "duration_ms", "component", "error_type", "query_type",
    "result_count", "project", "event",
}  # fmt: skip

PY = '''def upload_with_retry(client, path, attempts=3):
    """Upload a file, retrying on connection errors."""
    for attempt in range(attempts):
        return client.put(path)


def parse_config(text):
    return dict(line.split("=", 1) for line in text.splitlines())
'''


class Captured(logging.Handler):
    """Formats every record as the server's JSON line, keeps the parsed objects."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.addFilter(ContextFilter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def find(self, logger: str, message: str) -> list[dict]:
        return [x for x in self.lines if x["logger"] == logger and x["message"] == message]


@pytest.fixture
def logs():
    handler = Captured()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "shop"
    root.mkdir()
    (root / "upload.py").write_text(PY)
    settings = Settings(home=tmp_path / "home")
    metrics = Metrics(CollectorRegistry(), "9.9.9")
    engine = build_engine(settings, embedder=HashEmbedder(), metrics=metrics)
    engine.index(root, "shop")
    yield settings, engine, metrics
    engine.close()


@asynccontextmanager
async def client_for(app):
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


def test_readme_lists_every_metric_with_its_labels():
    text = README.read_text(encoding="utf-8")
    section = text.split("## Observability", 1)[1].split("\n## ", 1)[0]
    for spec in METRICS:
        labels = ", ".join(f"`{label}`" for label in spec.labels) or "\u2013"
        row = f"| `{spec.name}` | {spec.kind} | {labels} |"
        assert row in section, row


def test_every_declared_metric_is_exposed_with_its_labels():
    metrics = Metrics(CollectorRegistry(), "1.2.3")
    metrics.sources.cache_stats = lambda: {
        "embedding": {"hits": 3, "misses": 1, "size_bytes": 10, "entries": 2}
    }
    metrics.sources.projects = lambda: [
        {"project": "a", "points": 7, "state": "complete", "last_run_at": 1700000000.0}
    ]
    metrics.sources.health = lambda: {"vector_store": "healthy", "disk_space": "degraded"}
    metrics.observe_request("GET", "/x", 200, "none", 0.002)
    metrics.observe_search("identifier", 0.003, 4)
    metrics.observe_vector_op("search", "a", 0.0004, True)
    metrics.observe_embedding("hash-64", 0.001, False)
    metrics.observe_index("a", 3, 9, 1)
    metrics.count_error("StoreError", "vector_store")
    generate_latest(metrics.registry)  # first scrape primes the CPU reading
    text = generate_latest(metrics.registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for spec in METRICS:
        base = spec.name.removesuffix("_total") if spec.kind == "counter" else spec.name
        assert base in families, spec.name
        fam = families[base]
        assert fam.type == spec.kind, spec.name
        names = {s.name for s in fam.samples}
        assert spec.name in names or f"{spec.name}_count" in names, spec.name
        for s in fam.samples:
            if s.name.endswith(("_created",)):
                continue
            assert set(s.labels) - {"le"} == set(spec.labels), (spec.name, s.labels)
    assert value(text, "codeweaver_cache_hit_rate", cache_type="embedding") == 0.75
    assert value(text, "codeweaver_health_check", component="disk_space") == 0.5
    assert value(text, "codeweaver_service_info", version="1.2.3") == 1
    assert value(text, "codeweaver_index_last_success_timestamp_seconds", project="a") == 1.7e9


def test_scrape_survives_missing_and_failing_sources():
    metrics = Metrics(CollectorRegistry())

    def broken():
        raise StoreError("down")

    metrics.sources.projects = broken
    metrics.sources.health = broken
    text = generate_latest(metrics.registry).decode()
    assert "codeweaver_cache_hits_total{" not in text
    assert "codeweaver_vector_collection_size{" not in text
    assert value(text, "codeweaver_memory_usage_bytes", component="process") > 1e6


def test_instrumented_wrappers_count_time_and_log_failures(logs):
    metrics = Metrics(CollectorRegistry())
    emb = InstrumentedEmbedder(HashEmbedder(), metrics)
    store = InstrumentedStore(MemoryStore(), "shop", metrics)
    assert emb.dim == 64 and emb.model_id == "hash-64"
    store.ensure(emb.dim)
    store.search(StoreQuery(dense=emb.embed_query("x"), sparse=None, limit=3))

    class Failing(MemoryStore):
        def count(self) -> int:
            raise StoreError("connection refused")

    bad = InstrumentedStore(Failing(), "shop", metrics)
    with pytest.raises(StoreError):
        bad.count()
    text = generate_latest(metrics.registry).decode()
    assert value(text, "codeweaver_embedding_requests_total", provider="hash-64", status="ok") == 1
    ok = {"operation": "search", "status": "ok", "collection": "shop"}
    assert value(text, "codeweaver_vector_operations_total", **ok) == 1
    err = {"operation": "count", "status": "error", "collection": "shop"}
    assert value(text, "codeweaver_vector_operations_total", **err) == 1
    errs = {"error_type": "StoreError", "component": "vector_store"}
    assert value(text, "codeweaver_errors_total", **errs) == 1
    assert value(text, "codeweaver_connection_pool_in_use") == 0
    (line,) = [x for x in logs.lines if x.get("component") == "vector_store"]
    assert line["level"] == "ERROR" and line["error_type"] == "StoreError"


def test_requests_searches_and_logs_through_the_app(env, logs):
    settings, engine, metrics = env
    settings = settings.model_copy(
        update={"observability": settings.observability.model_copy(update={"slow_search_ms": 1e-6})}
    )
    app = create_app(settings, engine, metrics=metrics, mount_mcp=False, auth_mode="none")

    # without authentication (mode none) every caller is the local user in tenant default
    async def scenario():
        async with client_for(app) as c:
            r = await c.post(
                "/api/v1/search",
                json={"query": "upload_with_retry", "project": "shop"},
                headers={"X-Request-ID": "req-abc-123"},
            )
            assert r.status_code == 200, r.text
            r = await c.post("/api/v1/search", json={"query": "retry the upload"})
            assert r.status_code == 200
            r = await c.post("/api/v1/search", json={"query": "x", "project": "nope"})
            assert r.status_code == 404
            assert (await c.get("/api/v1/projects/shop")).status_code == 200
            root = Path(engine.status("shop")["root"])
            (root / "more.py").write_text("def more():\n    return 1\n")
            job = (await c.post("/api/v1/index", json={"path": str(root)})).json()
            for _ in range(500):
                state = (await c.get(f"/api/v1/jobs/{job['job_id']}")).json()["state"]
                if state in ("succeeded", "failed"):
                    break
                await asyncio.sleep(0.02)
            assert state == "succeeded"
            assert (await c.get("/no/such/path")).status_code == 404
            return (await c.get("/metrics")).text

    text = asyncio.run(scenario())
    search = {"method": "POST", "endpoint": "/api/v1/search", "tenant_id": "default"}
    assert value(text, "codeweaver_requests_total", **search, status="200") == 2
    assert value(text, "codeweaver_requests_total", **search, status="404") == 1
    assert (
        value(
            text,
            "codeweaver_requests_total",
            method="GET",
            endpoint="/api/v1/projects/{name}",
            status="200",
            tenant_id="default",
        )
        == 1
    )
    assert 'endpoint="/no/such/path"' not in text and 'endpoint="unmatched"' in text
    assert value(text, "codeweaver_search_latency_seconds_count", query_type="identifier") == 1
    assert (
        value(text, "codeweaver_search_latency_seconds_count", query_type="natural_language") == 1
    )
    assert value(text, "codeweaver_search_results_count_count") == 2
    assert (
        value(text, "codeweaver_errors_total", error_type="NotFoundError", component="search") == 1
    )
    assert value(text, "codeweaver_vector_collection_size", collection="shop") > 0
    assert value(text, "codeweaver_index_files_total", project="shop") == 1
    assert value(text, "codeweaver_index_errors_total", project="shop") == 0
    assert value(text, "codeweaver_health_check", component="vector_store") == 1
    assert value(text, "codeweaver_active_connections") == 1  # the /metrics request itself
    provider = {"provider": "hash-64", "status": "ok"}
    assert value(text, "codeweaver_embedding_requests_total", **provider) >= 3

    for line in logs.lines:
        assert set(line) - {"exception", "taskName"} <= LOG_KEYS, line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["timestamp"])
    first = logs.find("codeweaver.access", "request")[0]
    assert first["request_id"] == "req-abc-123"
    assert first["route"] == "/api/v1/search" and first["status"] == 200
    assert first["tenant_id"] == "default" and first["user"] == "local"
    assert first["method"] == "POST" and first["duration_ms"] > 0
    hit = logs.find("codeweaver.search", "search")[0]
    assert hit["request_id"] == "req-abc-123" and hit["tenant_id"] == "default"
    assert hit["query_type"] == "identifier" and hit["project"] == "shop"
    assert hit["result_count"] >= 1 and hit["level"] == "INFO"
    slow = logs.find("codeweaver.search", "slow search")
    assert len(slow) == 2 and slow[0]["level"] == "WARNING"
    assert all(x["level"] == "INFO" for x in logs.find("codeweaver.search", "search"))
    rejected = logs.find("codeweaver.search", "search rejected")
    assert rejected[0]["error_type"] == "NotFoundError" and rejected[0]["tenant_id"] == "default"
    assert rejected[0]["user"] == "local" and rejected[0]["level"] == "INFO"


def test_slow_request_warning_and_disabled_metrics(env, logs):
    settings, engine, _ = env
    obs = settings.observability.model_copy(update={"slow_request_ms": 1e-6, "metrics": False})
    app = create_app(
        settings.model_copy(update={"observability": obs}),
        engine,
        mount_mcp=False,
        auth_mode="none",
    )

    async def scenario():
        async with client_for(app) as c:
            assert (await c.get("/health/live")).status_code == 200
            r = await c.get("/metrics")
            assert r.status_code == 404 and "switched off" in r.json()["error"]["message"]

    asyncio.run(scenario())
    (slow,) = [
        x for x in logs.find("codeweaver.access", "slow request") if x["route"] == "/health/live"
    ]
    assert slow["level"] == "WARNING" and slow["status"] == 200


def test_registered_health_components_and_gauges(env):
    settings, engine, metrics = env
    app = create_app(settings, engine, metrics=metrics, mount_mcp=False, auth_mode="none")
    register_health_check(app, "cache", lambda: ("degraded", "redis unreachable, L1 only"))

    def auth_store():
        raise OSError("users.db is locked")

    register_health_check(app, "auth_store", auth_store)

    async def scenario():
        async with client_for(app) as c:
            r = await c.get("/api/v1/health")
            assert r.status_code == 503
            body = r.json()
            assert body["status"] == "unhealthy"
            assert body["components"]["cache"]["status"] == "degraded"
            assert "redis unreachable" in body["components"]["cache"]["detail"]
            assert "users.db is locked" in body["components"]["auth_store"]["detail"]
            summary = (await c.get("/health")).json()
            assert summary["components"]["cache"] == "degraded"
            return (await c.get("/metrics")).text

    text = asyncio.run(scenario())
    assert value(text, "codeweaver_health_check", component="cache") == 0.5
    assert value(text, "codeweaver_health_check", component="auth_store") == 0
    assert value(text, "codeweaver_health_check", component="embedder") == 1


def test_cache_series_appear_once_the_engine_has_caches(env):
    settings, engine, metrics = env
    engine.cache_stats = lambda: {  # what the engine's caches report
        "embedding": {"hits": 8, "misses": 2, "size_bytes": 4096, "entries": 10},
        "results": {"hits": 0, "misses": 0, "size_bytes": 0, "entries": 0},
    }
    app = create_app(settings, engine, metrics=metrics, mount_mcp=False, auth_mode="none")

    async def scenario():
        async with client_for(app) as c:
            text = (await c.get("/metrics")).text

            async def searches():
                await asyncio.sleep(0.1)
                for i in range(5):
                    q = {"query": f"retry upload {i}", "project": "shop"}
                    assert (await c.post("/api/v1/search", json=q)).status_code == 200

            memory = c.get("/api/v1/debug/memory", params={"seconds": 0.6, "top": 5})
            resp, _ = await asyncio.gather(memory, searches())
            mem = resp.json()
            bad = await c.get("/api/v1/debug/memory", params={"seconds": 99})
            return text, mem, bad

    text, mem, bad = asyncio.run(scenario())
    assert value(text, "codeweaver_cache_hits_total", cache_type="embedding") == 8
    assert value(text, "codeweaver_cache_hit_rate", cache_type="embedding") == 0.8
    assert value(text, "codeweaver_cache_hit_rate", cache_type="results") is None
    assert value(text, "codeweaver_cache_size_bytes", cache_type="embedding") == 4096
    assert value(text, "codeweaver_memory_usage_bytes", component="cache") == 4096
    assert mem["rss_bytes"] > 1e6 and mem["peak_rss_bytes"] >= mem["rss_bytes"] * 0.5
    assert mem["caches"]["embedding"] == {"size_bytes": 4096, "entries": 10}
    assert mem["indexes"][0]["project"] == "shop" and mem["indexes"][0]["points"] > 0
    assert 1 <= len(mem["tracemalloc"]["top"]) <= 5
    assert {"file", "line", "size_bytes", "count"} == set(mem["tracemalloc"]["top"][0])
    assert bad.status_code == 422


def test_console_format_is_readable():
    record = logging.LogRecord(
        "codeweaver.search", logging.WARNING, __file__, 1, "slow search", (), None
    )
    record.duration_ms = 1500.0
    record.query_type = "identifier"
    line = ConsoleFormatter().format(record)
    assert re.match(r"\d\d:\d\d:\d\d WARNING codeweaver.search: slow search  ", line)
    assert "duration_ms=1500.0" in line and "query_type=identifier" in line
    assert not line.startswith("{")


def test_memory_diagnostics_stop_tracemalloc_again():
    import tracemalloc

    from codeweaver.telemetry.memory import top_allocations

    assert not tracemalloc.is_tracing()
    started = time.perf_counter()
    out = top_allocations(3, 0.05)
    assert time.perf_counter() - started >= 0.05
    assert not tracemalloc.is_tracing() and out["sampled_seconds"] == 0.05


def test_metrics_on_a_separate_port(env):
    import socket

    settings, engine, metrics = env
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    obs = settings.observability.model_copy(update={"metrics_port": port})
    app = create_app(
        settings.model_copy(update={"observability": obs}),
        engine,
        metrics=metrics,
        auth_mode="none",
    )

    async def scenario():
        async with client_for(app) as c:
            assert (await c.get("/health/live")).status_code == 200
            return await asyncio.to_thread(
                lambda: httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            )

    text = asyncio.run(scenario())
    assert value(text, "codeweaver_service_info", version="9.9.9") == 1
    live = {"method": "GET", "endpoint": "/health/live", "status": "200", "tenant_id": "default"}
    assert value(text, "codeweaver_requests_total", **live) == 1
    with pytest.raises(httpx.TransportError):  # closed with the app
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
