"""The FastAPI app factory: lifespan (engine + job workers), middleware, routes."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount

from codeweaver.api.auth_middleware import (
    AuthMiddleware,
    SecurityHeadersMiddleware,
    compile_table,
)
from codeweaver.api.backups import start_scheduler
from codeweaver.api.errors import install_error_handlers
from codeweaver.api.health import HealthCache, Status, register_health_check
from codeweaver.api.host_guard import HostGuardMiddleware, mcp_transport_lists
from codeweaver.api.mcp_sessions import SessionOwnerMiddleware
from codeweaver.api.middleware import RequestContextMiddleware
from codeweaver.api.observability import ObservabilityMiddleware, observing
from codeweaver.api.routes import ROUTES
from codeweaver.auth.rbac import Roles
from codeweaver.auth.service import AuthService
from codeweaver.auth.setup import build_audit, build_auth, build_limiter, effective_mode
from codeweaver.auth.tokens import load_keys
from codeweaver.config import Settings
from codeweaver.container import build_engine
from codeweaver.engine import Engine
from codeweaver.errors import ConfigError, EmbeddingError
from codeweaver.mcp import streamable_http_app
from codeweaver.telemetry.events import Telemetry
from codeweaver.telemetry.metrics import Metrics
from codeweaver.workers.jobs import JobManager
from codeweaver.workers.watch import Watcher

__all__ = ["create_app"]

log = logging.getLogger("codeweaver.api")
JOB_JOIN_TIMEOUT = 10.0


def _version() -> str:
    try:
        return version("codeweaver")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def warm_in_background(engine: Engine) -> None:
    try:
        done = engine.warm_cache()
    except Exception as exc:  # a background thread must not die with a traceback
        log.warning("cache warming at start failed: %s", exc)
        return
    log.info("caches warmed: %s", done)


def _auth_store_health(auth: AuthService) -> tuple[Status, str]:
    """Without its identity store nobody can log in: unhealthy."""
    try:
        version = auth.store.db.version()
    except Exception as exc:  # any driver error means the store cannot answer
        return "unhealthy", f"identity store unreachable: {type(exc).__name__}"
    return "healthy", f"{auth.store.db.dialect} identity store, schema v{version}"


async def _close_kb(app: FastAPI) -> None:
    """Close the runbook index (opened on first use) before the engine whose embedder it shares."""
    if app.state.kb is not None:
        await asyncio.to_thread(app.state.kb.close)
        app.state.kb = None


async def _start_engine(settings: Settings, metrics: Metrics | None) -> Engine:
    """Build the engine, load the model (so /health/ready means "ready") and start
    warming the caches in the background when configured."""
    eng = await asyncio.to_thread(build_engine, settings, metrics=metrics)
    try:
        await asyncio.to_thread(eng.embedder.embed_query, "warm up")
    except EmbeddingError as exc:  # a remote provider may be down: serve keyword search
        log.warning("embedder unavailable at start, searches are degraded: %s", exc)
    if settings.cache.warm_on_start:
        threading.Thread(target=warm_in_background, args=(eng,), daemon=True).start()
    return eng


def create_app(
    settings: Settings,
    engine: Engine | None = None,
    *,
    job_workers: int = 2,
    watch: Sequence[Path] = (),
    mount_mcp: bool = True,
    metrics: Metrics | None = None,
    auth_mode: str | None = None,
    bind_host: str | None = None,
) -> FastAPI:
    """The HTTP API. Without ``engine`` one is built from ``settings`` at startup.

    Authentication fails closed: ``auth.mode`` ``auto`` means ``jwt`` unless
    ``bind_host`` (the address the caller is about to bind, as ``codeweaver serve``
    passes it) is loopback, and ``none`` needs a loopback ``bind_host``. ``auth_mode``
    (``"none"`` or ``"jwt"``) overrides both, for callers that decide themselves.
    Without authentication only loopback ``Host`` names and origins are served.

    An engine passed in belongs to the caller and is not closed at shutdown. The MCP
    endpoint (streamable HTTP) is mounted at ``/mcp`` once the engine exists; every
    folder in ``watch`` is indexed and then kept fresh by a watcher. With
    ``observability.metrics_port`` set, ``/metrics`` is also served, without
    authentication, on that port of ``observability.metrics_host``. ``metrics`` (the
    caller's, e.g. the one its engine reports to) replaces the app's own.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None
        eng = engine if engine is not None else await _start_engine(settings, metrics)
        if mode == "jwt":
            app.state.auth = await asyncio.to_thread(build_auth, settings)
            register_health_check(app, "auth_store", partial(_auth_store_health, app.state.auth))
        jobs = JobManager(eng, workers=job_workers, max_queued=settings.index.max_queued_jobs)
        jobs.start()
        app.state.engine = eng
        app.state.jobs = jobs
        watchers = [Watcher(eng, root) for root in watch]
        for watcher in watchers:
            watcher.start()
        scheduler = start_scheduler(settings)
        try:
            with observing(app, eng, telemetry, obs.metrics_port, obs.metrics_host):
                if mount_mcp:
                    mcp_app = _mcp_app(eng, app, settings, bind_host, jobs)
                    app.router.routes.append(Mount("/mcp", app=mcp_app))
                    async with mcp_app.router.lifespan_context(mcp_app):
                        yield
                else:
                    yield
        finally:
            if scheduler is not None:
                await asyncio.to_thread(scheduler.stop, JOB_JOIN_TIMEOUT)
            for watcher in watchers:
                await asyncio.to_thread(watcher.stop)
            app.state.engine = None
            if not await asyncio.to_thread(jobs.stop, JOB_JOIN_TIMEOUT):
                log.warning("index jobs still running at shutdown; they resume next run")
            await _close_kb(app)
            if owned:
                await asyncio.to_thread(eng.close)
            if app.state.auth is not None:
                app.state.auth.store.db.close()
                app.state.auth = None

    obs = settings.observability
    if metrics is None and obs.metrics:
        metrics = Metrics(CollectorRegistry(), _version())
    telemetry = Telemetry(metrics, obs.slow_search_ms)

    app = FastAPI(
        title="CodeWeaver",
        version=_version(),
        summary="Semantic code search over HTTP.",
        lifespan=lifespan,
    )
    mode = _mode(settings, auth_mode, bind_host)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.engine = None
    app.state.jobs = None
    app.state.kb = None
    app.state.auth = None
    app.state.auth_mode = mode
    app.state.audit = build_audit(settings)
    app.state.limiter = build_limiter(settings)
    app.state.health_cache = HealthCache(obs.health_cache_seconds)
    for route in ROUTES:
        app.add_api_route(
            route.path,
            route.handler,
            methods=[route.method],
            summary=route.summary,
            status_code=route.status,
        )
    install_error_handlers(app)
    _install_middleware(app, settings, mode, metrics)
    return app


def _mcp_app(
    eng: Engine, app: FastAPI, settings: Settings, bind_host: str | None, jobs: JobManager
) -> Starlette:
    """The MCP endpoint: sessions bound to their callers and, without authentication,
    the SDK's own Host/Origin check on the loopback lists."""
    hosts: list[str] | None = None
    origins: list[str] | None = None
    if app.state.auth_mode == "none":
        hosts, origins = mcp_transport_lists(bind_host, settings.auth.cors_origins)
    mcp_app = streamable_http_app(
        eng,
        allowed_hosts=hosts,
        allowed_origins=origins,
        audit=app.state.audit,
        require_auth=True,
        jobs=jobs,
    )
    mcp_app.add_middleware(SessionOwnerMiddleware, audit=app.state.audit)
    return mcp_app


def _install_middleware(
    app: FastAPI, settings: Settings, mode: str, metrics: Metrics | None
) -> None:
    """Outermost first: CORS (when configured), security headers, request ids and the
    body limit, metrics and access logs (so refusals are counted too), the loopback
    Host/Origin guard (without authentication), then authentication / authorization /
    rate limits."""
    table = compile_table((r.method, r.path, r.permission) for r in ROUTES)
    app.add_middleware(
        AuthMiddleware,
        mode=mode,
        table=table,
        max_query_bytes=settings.auth.max_query_string_bytes,
    )
    if mode == "none":
        app.add_middleware(HostGuardMiddleware, cors_origins=settings.auth.cors_origins)
    app.add_middleware(
        ObservabilityMiddleware,
        metrics=metrics,
        slow_request_ms=settings.observability.slow_request_ms,
    )
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.auth.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.auth.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        )


def _mode(settings: Settings, auth_mode: str | None, bind_host: str | None) -> str:
    """``none`` or ``jwt``; see :func:`create_app`."""
    if auth_mode is not None:
        mode = auth_mode
    elif bind_host is not None:
        mode = effective_mode(settings, bind_host)
    elif settings.auth.mode == "none":
        raise ConfigError(
            "auth.mode 'none' is only allowed on a loopback address, and this app does not "
            "know its bind address: pass create_app(settings, bind_host=HOST) or use "
            "CODEWEAVER_AUTH__MODE=jwt"
        )
    else:  # "auto" with an unknown bind address: authenticate
        mode = "jwt"
    if mode not in ("none", "jwt"):
        raise ConfigError(f"invalid auth mode {mode!r}: expected 'none' or 'jwt'")
    if mode == "jwt":  # bad keys or roles stop the start with a clear message
        load_keys(settings.auth, settings.home)
        Roles(settings.auth.roles)
    return mode
