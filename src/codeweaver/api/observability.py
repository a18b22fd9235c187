"""Request metrics and access logs (ASGI middleware), ``/metrics`` and memory diagnostics."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codeweaver.api import health
from codeweaver.api.access import tenants_of
from codeweaver.engine import Engine, sees_all
from codeweaver.errors import NotFoundError, StoreError
from codeweaver.telemetry.events import Telemetry
from codeweaver.telemetry.logs import ANONYMOUS, NO_TENANT, bind_request, reset_request
from codeweaver.telemetry.memory import MAX_SAMPLE_SECONDS, MAX_TOP, memory_report
from codeweaver.telemetry.metrics import Metrics
from codeweaver.telemetry.sampler import SAMPLE_INTERVAL_SECONDS, Sampler

__all__ = [
    "ObservabilityMiddleware",
    "TenantView",
    "debug_memory",
    "health_statuses",
    "metrics",
    "observing",
    "route_of",
]

access_log = logging.getLogger("codeweaver.access")
UNMATCHED = "unmatched"


def route_of(scope: Scope) -> str:
    """The bounded endpoint label: the route template, a mount prefix, or ``unmatched``."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path_format", None) or getattr(route, "path", UNMATCHED))
    mount = scope.get("root_path") or ""
    return str(mount) if mount else UNMATCHED


class ObservabilityMiddleware:
    """Counts and times every HTTP request, tracks requests in flight, writes access logs.

    Reads ``tenant_id`` / ``user`` from the request state (set by authentication, when
    present) and ``error_type`` (set by the error handlers).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics | None, slow_request_ms: float) -> None:
        self.app = app
        self.metrics = metrics
        self.slow_request_ms = slow_request_ms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        token = bind_request(state)
        status = 500
        started = time.perf_counter()
        if self.metrics is not None:
            self.metrics.active_connections.inc()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            if self.metrics is not None:
                self.metrics.active_connections.dec()
            self._finish(scope, state, status, time.perf_counter() - started)
            reset_request(token)

    def _finish(self, scope: Scope, state: dict[str, Any], status: int, seconds: float) -> None:
        method = str(scope.get("method", ""))
        route = route_of(scope)
        tenant = str(state.get("tenant_id") or NO_TENANT)
        error_type = state.get("error_type")
        if status >= 500 and error_type is None:
            error_type = f"HTTP{status}"
        if self.metrics is not None:
            self.metrics.observe_request(method, route, status, tenant, seconds)
            if status >= 500:
                self.metrics.count_error(str(error_type), "api")
        duration_ms = round(seconds * 1000.0, 3)
        fields: dict[str, Any] = {
            "event": "request",
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "tenant_id": tenant,
            "user": str(state.get("user") or ANONYMOUS),
        }
        if status >= 500:
            access_log.error("request", extra={**fields, "error_type": error_type})
        elif access_log.isEnabledFor(logging.INFO):
            access_log.info("request", extra=fields)
        if duration_ms > self.slow_request_ms:
            access_log.warning("slow request", extra=fields)


def _metrics_of(request: Request) -> Metrics:
    m: Metrics | None = getattr(request.app.state, "metrics", None)
    if m is None:
        raise NotFoundError("metrics are switched off (observability.metrics = false)")
    return m


class TenantView(Collector):
    """The series of ``source`` a caller limited to ``tenants`` may see: none labelled
    with another tenant (``tenant_id``) or with a project outside ``projects``
    (``project``, ``collection``); unlabelled, process-wide series stay."""

    def __init__(
        self, source: Collector, tenants: Collection[str], projects: Collection[str]
    ) -> None:
        self._source = source
        self._tenants = frozenset(tenants)
        self._projects = frozenset(projects)

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        for family in self._source.collect():
            kept = Metric(family.name, family.documentation, family.type, family.unit)
            kept.samples = [s for s in family.samples if self._keep(s.labels)]
            yield kept

    def _keep(self, labels: dict[str, str]) -> bool:
        tenant = labels.get("tenant_id")
        if tenant is not None and tenant not in self._tenants:
            return False
        return all(labels[k] in self._projects for k in ("project", "collection") if k in labels)


def _visible_projects(request: Request, tenants: Collection[str]) -> list[str]:
    engine: Engine | None = getattr(request.app.state, "engine", None)
    if engine is None:
        return []
    return [str(p["project"]) for p in engine.list_projects(tenants=tenants)]


def metrics(request: Request) -> Response:
    """Prometheus text exposition: every series for a caller of every tenant, else only
    the caller's tenants' series and process-wide ones."""
    source: Collector = _metrics_of(request).exposition_registry()
    tenants = tenants_of(request)
    if not sees_all(tenants):
        source = TenantView(source, tenants, _visible_projects(request, tenants))
    return Response(generate_latest(source), media_type=CONTENT_TYPE_LATEST)


def health_statuses(app: Any) -> dict[str, str]:
    """Component → status, for the health gauges (empty while the engine starts)."""
    engine = getattr(app.state, "engine", None)
    jobs = getattr(app.state, "jobs", None)
    if engine is None or jobs is None:
        return {}
    components = health.check_health(
        engine, app.state.settings.home, jobs.active_projects(), health.registered_checks(app)
    )
    return {name: str(c["status"]) for name, c in components.items()}


def debug_memory(
    request: Request,
    top: Annotated[int, Query(ge=1, le=MAX_TOP)] = 20,
    seconds: Annotated[float, Query(ge=0, le=MAX_SAMPLE_SECONDS)] = 1.0,
) -> dict[str, Any]:
    """RSS, tracemalloc's top allocations over ``seconds``, cache and index sizes."""
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise StoreError("the server is starting or stopping; try again")
    stats = getattr(engine, "cache_stats", None)
    return memory_report(
        top=top,
        seconds=seconds,
        cache_stats=stats() if callable(stats) else None,
        projects=engine.list_projects(tenants=tenants_of(request)),
    )


@contextmanager
def observing(
    app: Any, engine: Any, telemetry: Telemetry, port: int | None, host: str
) -> Iterator[None]:
    """While the server runs: search/index events reach ``telemetry``, scrape-time
    metrics read ``engine`` and ``app``, and ``port`` (if set) serves ``/metrics`` too."""
    telemetry.attach(engine)
    m = telemetry.metrics
    server = None
    samplers: list[Sampler[Any]] = []
    if m is not None:
        projects = Sampler("projects", engine.list_projects, SAMPLE_INTERVAL_SECONDS)
        components = Sampler("health", lambda: health_statuses(app), SAMPLE_INTERVAL_SECONDS)
        samplers = [projects.start(), components.start()]
        m.sources.cache_stats = getattr(engine, "cache_stats", None)
        m.sources.projects = projects.latest
        m.sources.health = components.latest
        if port is not None:
            server, _thread = start_http_server(port, addr=host, registry=m.exposition_registry())
    try:
        yield
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        for sampler in samplers:
            sampler.stop()
        telemetry.detach(engine)
        if m is not None:
            m.sources.cache_stats = m.sources.projects = m.sources.health = None
            m.process_exiting()
