"""The FastAPI app factory: lifespan (engine + job workers), middleware, routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from fastapi import FastAPI
from starlette.routing import Mount

from codeweaver.api.backups import start_scheduler
from codeweaver.api.errors import install_error_handlers
from codeweaver.api.middleware import RequestContextMiddleware
from codeweaver.api.routes import ROUTES
from codeweaver.config import Settings
from codeweaver.container import build_engine
from codeweaver.engine import Engine
from codeweaver.mcp import streamable_http_app
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


def create_app(
    settings: Settings,
    engine: Engine | None = None,
    *,
    job_workers: int = 2,
    watch: Sequence[Path] = (),
    mount_mcp: bool = True,
) -> FastAPI:
    """The HTTP API. Without ``engine`` one is built from ``settings`` at startup.

    An engine passed in belongs to the caller and is not closed at shutdown. The MCP
    endpoint (streamable HTTP) is mounted at ``/mcp`` once the engine exists; every
    folder in ``watch`` is indexed and then kept fresh by a watcher.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None
        if engine is None:
            eng = await asyncio.to_thread(build_engine, settings)
            # load the model now, so /health/ready means "ready"
            await asyncio.to_thread(eng.embedder.embed_query, "warm up")
        else:
            eng = engine
        jobs = JobManager(eng, workers=job_workers)
        jobs.start()
        app.state.engine = eng
        app.state.jobs = jobs
        watchers = [Watcher(eng, root) for root in watch]
        for watcher in watchers:
            watcher.start()
        scheduler = start_scheduler(settings)
        try:
            if mount_mcp:
                mcp_app = streamable_http_app(eng)
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
            if owned:
                await asyncio.to_thread(eng.close)

    app = FastAPI(
        title="CodeWeaver",
        version=_version(),
        summary="Semantic code search over HTTP.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = None
    app.state.jobs = None
    for route in ROUTES:
        app.add_api_route(
            route.path,
            route.handler,
            methods=[route.method],
            summary=route.summary,
            status_code=route.status,
        )
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    return app
