"""The owner's local API: what CLI clients and stdio MCP proxies ask of the engine.

Served only on the owner's Unix socket (see ``peer``), to the OS user that owns the
data directory: every call runs as the local user, exactly as the same command run
in-process would (the engine's own checks apply: root policy, project names, paths).
Answers are JSON; errors are ``{"error": message, "type": class}``; index runs and
watchers stream JSON lines and stop when their client disconnects. ``/mcp`` is the
MCP streamable-HTTP endpoint over the same engine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from codeweaver import __version__
from codeweaver.engine import Engine
from codeweaver.errors import CodeWeaverError, IndexingError, InputError
from codeweaver.owner.peer import Presence
from codeweaver.owner.wire import VERSION_HEADER, error_body, status_for
from codeweaver.search.service import SearchRequest
from codeweaver.workers.watch import WatchBatch, Watcher

__all__ = ["OwnerState", "owner_app"]

log = logging.getLogger("codeweaver.owner")
PROGRESS_EVERY = 0.1  # seconds between progress lines of a streamed index run
PING_EVERY = 10.0


_POOL: list[ThreadPoolExecutor] = []
T = TypeVar("T")


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking engine call off the event loop (a plain executor: the cheapest hop)."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(8, thread_name_prefix="codeweaver-owner"))
    return await asyncio.get_running_loop().run_in_executor(_POOL[0], fn, *args)


class _Interrupted(Exception):
    """Raised from the progress callback when the client of an index run left."""


@dataclass(slots=True)
class OwnerState:
    engine: Engine
    kind: str
    home: Path
    presence: Presence
    started_at: float = field(default_factory=time.time)
    stop: Callable[[], None] = lambda: None
    doctor: Callable[[Engine], list[dict[str, Any]]] | None = None
    restore: Callable[[Engine, dict[str, Any], Callable[[str], None]], dict[str, Any]] | None = None


Handler = Callable[[Request, OwnerState], Awaitable[Any]]


def _answer(handler: Handler, state: OwnerState) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(request, state)
        except CodeWeaverError as exc:
            return JSONResponse(error_body(exc), status_code=status_for(exc))
        except Exception as exc:  # never a traceback to the client
            log.exception("owner request %s failed", request.url.path)
            body = {"error": f"unexpected error: {type(exc).__name__}: {exc}", "type": ""}
            return JSONResponse(body, status_code=500)
        return result if isinstance(result, Response) else JSONResponse(result)

    return endpoint


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise InputError(f"request body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError("request body must be a JSON object")
    return data


def _cwd(value: Any) -> Path | None:
    return Path(value) if isinstance(value, str) and value else None


def _opt(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return str(value) if value is not None else None


# ------------------------------------------------------------------ queries
async def info(_request: Request, s: OwnerState) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "version": __version__,
        "kind": s.kind,
        "home": str(s.home),
        "started_at": s.started_at,
        "connections": s.presence.connections,
    }


def _search(s: OwnerState, data: dict[str, Any]) -> dict[str, Any]:
    engine = s.engine
    project = engine.resolve_project(_opt(data, "project"), _cwd(data.get("cwd")))
    request = SearchRequest(
        str(data.get("query", "")),
        limit=int(data.get("limit", 10)),
        language=_opt(data, "language"),
        path=_opt(data, "path"),
        kind=_opt(data, "kind"),
    )
    result = engine.search(request, project.name, use_cwd=False)
    body: dict[str, Any] = {
        "project": project.name,
        "results": [h.as_dict() for h in result.hits],
        "took_ms": result.took_ms,
        "query_type": result.query_type,
    }
    if result.degraded:
        body["degraded"] = True
    return body


async def search(request: Request, s: OwnerState) -> dict[str, Any]:
    data = await _body(request)
    return await _in_thread(_search, s, data)


async def status(request: Request, s: OwnerState) -> dict[str, Any]:
    q = request.query_params

    def run() -> dict[str, Any]:
        project = s.engine.resolve_project(q.get("project") or None, _cwd(q.get("cwd")))
        return s.engine.status(project.name)

    return await _in_thread(run)


async def projects(_request: Request, s: OwnerState) -> dict[str, Any]:
    return {"projects": await _in_thread(s.engine.list_projects)}


async def remove(request: Request, s: OwnerState) -> dict[str, Any]:
    name = request.path_params["name"]
    await _in_thread(s.engine.remove_project, name)
    return {"removed": name}


async def cache_report(request: Request, s: OwnerState) -> dict[str, Any]:
    top = int(request.query_params.get("top", "10"))
    return await _in_thread(s.engine.cache_report, top)


async def cache_warm(request: Request, s: OwnerState) -> dict[str, Any]:
    data = await _body(request)
    project, top = _opt(data, "project"), data.get("top")

    def run() -> dict[str, int]:
        if project is not None:
            s.engine.resolve_project(project)
        return s.engine.warm_cache(project, int(top) if top is not None else None)

    return await _in_thread(run)


async def cache_clear(request: Request, s: OwnerState) -> dict[str, Any]:
    data = await _body(request)
    return {"removed": await _in_thread(s.engine.clear_cache, _opt(data, "project"))}


async def doctor(_request: Request, s: OwnerState) -> dict[str, Any]:
    if s.doctor is None:
        raise InputError("this owner does not run local checks")
    return {"checks": await _in_thread(s.doctor, s.engine)}


async def shutdown(_request: Request, s: OwnerState) -> dict[str, Any]:
    asyncio.get_running_loop().call_later(0.05, s.stop)
    return {"stopping": os.getpid()}


# ------------------------------------------------------------------ streams
class _Lines:
    """JSON lines handed from a worker thread to the response, ended by done/error."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.left = threading.Event()  # the client went away

    def put(self, item: dict[str, Any]) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    async def lines(self, ping: float | None = None) -> AsyncIterator[str]:
        try:
            while True:
                try:
                    item = await asyncio.wait_for(self._queue.get(), ping)
                except TimeoutError:
                    item = {"ping": time.time()}
                yield json.dumps(item) + "\n"
                if "done" in item or "error" in item:
                    return
        finally:
            self.left.set()

    def response(self, ping: float | None = None) -> StreamingResponse:
        return StreamingResponse(self.lines(ping), media_type="application/x-ndjson")


def _failure(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, CodeWeaverError):
        return error_body(exc)
    log.error("owner stream failed", exc_info=exc)
    return {"error": f"unexpected error: {type(exc).__name__}: {exc}", "type": ""}


def _run_index(s: OwnerState, data: dict[str, Any], out: _Lines) -> None:
    last = [0.0]

    def progress(p: Any) -> None:
        if out.left.is_set():
            raise _Interrupted
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            out.put({"progress": [p.files_done, p.files_total, p.chunks_done]})

    paths = data.get("paths")
    try:
        stats = s.engine.index(
            str(data.get("path", "")),
            _opt(data, "project"),
            full=bool(data.get("full", False)),
            on_progress=progress,
            paths=[str(p) for p in paths] if isinstance(paths, list) else None,
        )
    except _Interrupted:
        out.put(error_body(IndexingError("index run interrupted; run it again to resume")))
    except BaseException as exc:
        out.put(_failure(exc))
    else:
        out.put({"done": stats.as_dict()})


async def index(request: Request, s: OwnerState) -> Response:
    data = await _body(request)
    out = _Lines()
    threading.Thread(target=_run_index, args=(s, data, out), daemon=True).start()
    return out.response()


def _batch_line(batch: WatchBatch) -> dict[str, Any]:
    return {
        "batch": {
            "paths": list(batch.paths),
            "stats": batch.stats.as_dict(),
            "seconds": batch.seconds,
        }
    }


def _run_watch(s: OwnerState, data: dict[str, Any], out: _Lines) -> None:
    try:
        watcher = Watcher(
            s.engine,
            str(data.get("path", "")),
            _opt(data, "project"),
            debounce_ms=int(data.get("debounce_ms", 300)),
            on_batch=lambda b: out.put(_batch_line(b)),
        )
        out.put({"watching": {"root": str(watcher.root), "project": watcher.project}})
        watcher.run_forever(out.left)  # until the client disconnects
    except BaseException as exc:
        out.put(_failure(exc))


async def watch(request: Request, s: OwnerState) -> Response:
    data = await _body(request)
    out = _Lines()
    threading.Thread(target=_run_watch, args=(s, data, out), daemon=True).start()
    return out.response(PING_EVERY)


def _run_restore(s: OwnerState, data: dict[str, Any], out: _Lines) -> None:
    assert s.restore is not None
    try:
        report = s.restore(s.engine, data, lambda step: out.put({"step": step}))
    except BaseException as exc:
        out.put(_failure(exc))
    else:
        out.put({"done": report})


async def restore(request: Request, s: OwnerState) -> Response:
    """Restore a backup in the owner: its stores close, the backup is swapped in, they
    reopen (instead of refusing because the owner holds the data directory)."""
    if s.restore is None:
        raise InputError("this owner does not restore backups")
    data = await _body(request)
    out = _Lines()
    threading.Thread(target=_run_restore, args=(s, data, out), daemon=True).start()
    return out.response(PING_EVERY)


async def presence(_request: Request, _s: OwnerState) -> Response:
    """A stream that only pings: held open by a stdio MCP proxy while it runs."""
    return _Lines().response(PING_EVERY)


# ------------------------------------------------------------------ the app
class _VersionGuard:
    """Refuse a client of another CodeWeaver version (it says which one it is)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            theirs = dict(scope["headers"]).get(VERSION_HEADER.lower().encode())
            if theirs is not None and theirs.decode(errors="replace") != __version__:
                message = (
                    f"this CodeWeaver owner runs version {__version__}, the client is "
                    f"{theirs.decode(errors='replace')}; stop the owner ('codeweaver daemon "
                    "stop') or use the same version"
                )
                body = {"error": message, "type": "ConfigError"}
                await JSONResponse(body, status_code=409)(scope, receive, send)
                return
        await self.app(scope, receive, send)


_ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/owner/v1/info", info),
    ("POST", "/owner/v1/search", search),
    ("GET", "/owner/v1/status", status),
    ("GET", "/owner/v1/projects", projects),
    ("DELETE", "/owner/v1/projects/{name}", remove),
    ("POST", "/owner/v1/index", index),
    ("POST", "/owner/v1/watch", watch),
    ("GET", "/owner/v1/presence", presence),
    ("GET", "/owner/v1/cache", cache_report),
    ("POST", "/owner/v1/cache/warm", cache_warm),
    ("POST", "/owner/v1/cache/clear", cache_clear),
    ("POST", "/owner/v1/doctor", doctor),
    ("POST", "/owner/v1/restore", restore),
    ("POST", "/owner/v1/shutdown", shutdown),
)


def owner_app(state: OwnerState, mcp_app: Starlette | None) -> ASGIApp:
    routes: list[Route | Mount] = [
        Route(path, _answer(handler, state), methods=[method]) for method, path, handler in _ROUTES
    ]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if mcp_app is None:
            yield
            return
        async with mcp_app.router.lifespan_context(mcp_app):
            yield

    if mcp_app is not None:
        routes.append(Mount("/mcp", app=mcp_app))
    return _VersionGuard(Starlette(routes=routes, lifespan=lifespan))
