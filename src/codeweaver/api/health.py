"""Health checks: vector store, embedder, index freshness, disk space, and registered ones.

Other parts of the server add a component with ``register_health_check(app, name,
check)``; ``check`` returns ``(status, detail)`` with status ``healthy``, ``degraded``
or ``unhealthy`` (an exception counts as unhealthy). Every component is aggregated into
the overall status and exported as ``codeweaver_health_check{component}``.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from codeweaver.engine import Engine, Tenants, sees_all
from codeweaver.errors import EmbeddingError

__all__ = [
    "HealthCache",
    "HealthCheck",
    "check_health",
    "overall",
    "readiness",
    "register_health_check",
    "registered_checks",
]

Status = str  # "healthy" | "degraded" | "unhealthy"
HealthCheck = Callable[[], tuple[Status, str]]
_RANK = {"healthy": 0, "degraded": 1, "unhealthy": 2}
DISK_DEGRADED_BYTES = 1024**3
DISK_UNHEALTHY_BYTES = 100 * 1024**2


def _timed(check: Callable[[], tuple[Status, str]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        status, detail = check()
        if status not in _RANK:
            status, detail = "unhealthy", f"unknown health status {status!r}: {detail}"
    except Exception as exc:  # a failing check is a finding, not an error
        status, detail = "unhealthy", f"{type(exc).__name__}: {exc}"
    latency = round((time.perf_counter() - started) * 1000.0, 3)
    return {"status": status, "detail": detail, "latency_ms": latency}


def _store(
    engine: Engine, seen: list[dict[str, Any]] | None = None, tenants: Tenants = None
) -> tuple[Status, str]:
    projects = engine.list_projects(tenants=tenants)
    if seen is not None:
        seen.extend(projects)
    points = sum(int(p["points"]) for p in projects)
    return "healthy", f"{len(projects)} projects, {points} points"


def _embedder(engine: Engine) -> tuple[Status, str]:
    emb = engine.embedder
    probe = getattr(emb, "probe", None)  # remote providers answer from their last request
    if callable(probe):
        status, detail = probe()
        return str(status), str(detail)
    try:
        vec = emb.embed_query("health check")
    except EmbeddingError as exc:  # searches still answer, from BM25 alone
        return "degraded", f"searching without embeddings (keyword only): {exc}"
    if len(vec) != emb.dim:
        return "unhealthy", f"embedder returned {len(vec)} dims, expected {emb.dim}"
    return "healthy", f"{emb.model_id} ({emb.dim} dims)"


def _freshness(projects: list[dict[str, Any]], indexing: set[str]) -> tuple[Status, str]:
    if not projects:
        return "healthy", "no projects indexed yet"
    stale = [
        p["project"] for p in projects if p["state"] != "complete" and p["project"] not in indexing
    ]
    if stale:
        return "degraded", "not fully indexed: " + ", ".join(sorted(stale))
    busy = f"; indexing: {', '.join(sorted(indexing))}" if indexing else ""
    return "healthy", f"{len(projects)} projects up to date{busy}"


def _disk(home: Path) -> tuple[Status, str]:
    probe = home
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    detail = f"{free / 1024**3:.2f} GiB free at {probe}"
    if free < DISK_UNHEALTHY_BYTES:
        return "unhealthy", detail
    if free < DISK_DEGRADED_BYTES:
        return "degraded", detail
    return "healthy", detail


def register_health_check(app: Any, name: str, check: HealthCheck) -> None:
    """Add component ``name`` to ``app``'s health (``app``: the FastAPI application)."""
    checks: dict[str, HealthCheck] | None = getattr(app.state, "health_checks", None)
    if checks is None:
        checks = {}
        app.state.health_checks = checks
    checks[name] = check


def registered_checks(app: Any) -> Mapping[str, HealthCheck]:
    return dict(getattr(app.state, "health_checks", None) or {})


def check_health(
    engine: Engine,
    home: Path,
    indexing: set[str],
    extra: Mapping[str, HealthCheck] | None = None,
    tenants: Tenants = None,
) -> dict[str, dict[str, Any]]:
    """Every component; the store and freshness ones count and name only the projects
    of ``tenants`` (None or ``"*"``: all)."""
    projects: list[dict[str, Any]] = []
    store = _timed(lambda: _store(engine, projects, tenants))
    if store["status"] == "healthy":
        if not sees_all(tenants):
            indexing = indexing & {str(p["project"]) for p in projects}
        freshness = _timed(lambda: _freshness(projects, indexing))
    else:
        freshness = {"status": "degraded", "detail": "store unavailable", "latency_ms": 0.0}
    components = {
        "vector_store": store,
        "embedder": _timed(lambda: _embedder(engine)),
        "index_freshness": freshness,
        "disk_space": _timed(lambda: _disk(home)),
        "cache": _timed(engine.cache_health),
    }
    for name, check in (extra or {}).items():
        components[name] = _timed(check)
    return components


class HealthCache:
    """The last full check, reused for ``seconds``; one check at a time computes it
    (concurrent callers wait for it instead of starting their own)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._value: dict[str, dict[str, Any]] | None = None
        self._at = 0.0

    def get(self, compute: Callable[[], dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
        with self._lock:
            fresh = self._value is not None and time.monotonic() - self._at < self.seconds
            if not fresh:
                self._value = compute()
                self._at = time.monotonic()
            assert self._value is not None
            return self._value


def overall(components: dict[str, dict[str, Any]]) -> Status:
    worst = max((_RANK.get(c["status"], 2) for c in components.values()), default=0)
    return next(name for name, rank in _RANK.items() if rank == worst)


def readiness(engine: Engine | None) -> tuple[bool, dict[str, Any]]:
    """Ready when the engine is built, the store answers and the embedder is loaded."""
    if engine is None:
        return False, {"engine": "starting"}
    store = _timed(lambda: _store(engine))
    emb = _timed(lambda: _embedder(engine))
    # a degraded embedder (remote provider down) still serves keyword search
    ok = store["status"] == "healthy" and emb["status"] in ("healthy", "degraded")
    return ok, {"vector_store": store["status"], "embedder": emb["status"]}
