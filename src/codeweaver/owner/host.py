"""Running an owner: the lock, the socket, the local API, the record, the idle timer.

* ``run_daemon``: a background owner (``codeweaver daemon run``), started on demand;
  it exits after ``owner.idle_timeout_seconds`` with no client connected.
* ``run_beside``: ``codeweaver serve``: the TCP API and the owner socket in one event
  loop, over the one engine the API's lifespan built.
* ``OwnerThread``: ``codeweaver watch`` when no owner runs: an owner inside the
  command's own process, for as long as it watches.

A serve or watch that finds a background owner asks it to stop and takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from codeweaver import __version__
from codeweaver.errors import ConfigError, IndexingError
from codeweaver.owner.client import OwnerGone, connect
from codeweaver.owner.locate import OwnerPaths
from codeweaver.owner.peer import Presence, peer_checked_protocol
from codeweaver.owner.record import OwnerLock, OwnerRecord, read_record

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from codeweaver.config import Settings
    from codeweaver.engine import Engine

__all__ = ["OwnerThread", "run_beside", "run_daemon", "take_ownership"]

log = logging.getLogger("codeweaver.owner")
MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with the terminating NUL


def bind_socket(paths: OwnerPaths) -> socket.socket:
    """Listen on ``run/owner.sock``, created 0600 (no window where others could connect)."""
    path = str(paths.socket)
    if len(path.encode()) > MAX_SOCKET_PATH:
        raise ConfigError(
            f"the data directory {paths.home} is too deep for the owner's socket "
            f"({len(path.encode())} bytes, at most {MAX_SOCKET_PATH}); choose a shorter home"
        )
    paths.ensure_run_dir()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # the lock is ours: a leftover socket belongs to a dead owner
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def take_ownership(settings: Settings, what: str) -> OwnerLock:
    """The owner lock for ``serve``/``watch``: a background owner is asked to stop
    and hand over; any other holder is an error naming it."""
    paths = OwnerPaths(settings.home)
    lock = OwnerLock(paths)
    if lock.try_acquire():
        return lock
    record = read_record(paths)
    client = connect(settings.home, check_version=False)
    if client is not None and client.record.kind == "daemon":
        log.info("asking the background owner (pid %s) to hand over", client.record.pid)
        with contextlib.suppress(IndexingError, OwnerGone):
            client.call("POST", "/owner/v1/shutdown")
        client.close()
    elif record is not None:
        raise IndexingError(
            f"{settings.home} is already owned by CodeWeaver {record.kind} (pid {record.pid}); "
            f"stop it before you {what}"
        )
    lock.acquire(settings.owner.start_timeout_seconds, what)
    return lock


class _Server:
    """One uvicorn server on the owner socket, serving the local API of ``engine``."""

    def __init__(self, settings: Settings, engine: Engine, kind: str, signals: bool) -> None:
        import uvicorn

        from codeweaver.auth.setup import build_audit
        from codeweaver.mcp import streamable_http_app
        from codeweaver.owner.service import OwnerState, owner_app

        self.paths = OwnerPaths(settings.home)
        self.kind = kind
        self.presence = Presence()
        audit = build_audit(settings)
        self.state = OwnerState(engine, kind, settings.home, self.presence, stop=self.stop)
        self.state.doctor = _doctor(settings)
        self.state.restore = _restorer(settings)
        mcp_app = streamable_http_app(engine, audit=audit, require_auth=False)

        def refused(pid: int | None, uid: int | None) -> None:
            log.warning("owner socket: refused a connection of uid %s (pid %s)", uid, pid)
            if audit is not None:
                audit.emit(
                    "authz.denied",
                    user=f"uid:{uid}",
                    route="owner-socket",
                    outcome="denied",
                    reason="the peer is not the user that owns the data directory",
                )

        config = uvicorn.Config(
            owner_app(self.state, mcp_app),
            http=peer_checked_protocol(self.presence, refused),
            lifespan="on",
            log_level=settings.log_level,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        self.server: uvicorn.Server = uvicorn.Server(config) if signals else _Quiet(config)
        self.sock = bind_socket(self.paths)

    def stop(self) -> None:
        self.server.should_exit = True

    async def serve(self, ready: Callable[[], None] | None = None) -> None:
        task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started and not task.done():
            await asyncio.sleep(0.02)
        if self.server.started:
            OwnerRecord(
                os.getpid(),
                str(self.paths.socket),
                __version__,
                self.kind,
                time.time(),
                str(self.paths.home),
            ).write(self.paths.record)
            if ready is not None:
                ready()
        await task
        self.sock.close()


def _quiet_class() -> type[uvicorn.Server]:
    import uvicorn

    class Quiet(uvicorn.Server):
        """A second server in a loop another one (or another thread) owns: no signals."""

        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            yield

    return Quiet


def _Quiet(config: uvicorn.Config) -> uvicorn.Server:
    return _quiet_class()(config)


def _doctor(settings: Settings) -> Callable[[Engine], list[dict[str, Any]]]:
    def run(engine: Engine) -> list[dict[str, Any]]:
        from codeweaver.diagnostics.doctor_local import local_checks

        checks = local_checks(settings.home, settings.operations, lambda: engine)
        return [c.as_dict() for c in checks]

    return run


def _restorer(
    settings: Settings,
) -> Callable[[Engine, dict[str, Any], Callable[[str], None]], dict[str, Any]]:
    def run(engine: Engine, data: dict[str, Any], on_step: Callable[[str], None]) -> Any:
        from codeweaver.container import build_backup_service

        service = build_backup_service(settings)
        with engine.suspended():
            return service.restore(
                str(data.get("backup_id", "")),
                data.get("dest"),
                components=data.get("components"),
                project=data.get("project"),
                on_step=on_step,
                allow_unsigned=bool(data.get("allow_unsigned", False)),
            )

    return run


def _open_engine(settings: Settings) -> Engine:
    from codeweaver.container import build_engine
    from codeweaver.errors import EmbeddingError

    engine = build_engine(settings)
    try:
        engine.embedder.embed_query("warm up")  # a client's first search is not the slow one
    except EmbeddingError as exc:
        log.warning("embedder unavailable at start, searches are degraded: %s", exc)
    return engine


async def _idle_watch(server: _Server, timeout: float) -> None:
    """Stop a background owner once nobody has been connected for ``timeout`` seconds,
    or when its socket or record is gone (its data directory was removed)."""
    paths = server.paths
    while not server.server.should_exit:
        await asyncio.sleep(min(1.0, max(timeout / 4, 0.05)))
        mine = read_record(paths)
        gone = not paths.socket.exists() or (mine is not None and mine.pid != os.getpid())
        if gone or server.presence.idle_for() >= timeout:
            log.info("background owner exits (%s)", "data gone" if gone else "idle")
            server.stop()


def run_daemon(settings: Settings) -> bool:
    """Own ``settings.home`` in the background until idle; False (at once) when another
    owner already answers there."""
    paths = OwnerPaths(settings.home)
    lock = OwnerLock(paths)
    deadline = time.monotonic() + settings.owner.start_timeout_seconds
    while not lock.try_acquire():
        if connect(settings.home, check_version=False) is not None:
            return False
        if time.monotonic() > deadline:
            lock.acquire(0, "start a background owner")
        time.sleep(0.05)
    try:
        engine = _open_engine(settings)
        try:
            server = _Server(settings, engine, "daemon", signals=True)

            async def main() -> None:
                idle = asyncio.create_task(_idle_watch(server, settings.owner.idle_timeout_seconds))
                await server.serve()
                idle.cancel()

            asyncio.run(main())
        finally:
            engine.close()
    finally:
        lock.release()
    return True


def run_beside(app: FastAPI, settings: Settings, kind: str, **uvicorn_options: Any) -> None:
    """Serve ``app`` over TCP and the owner socket over the engine its lifespan built.
    The owner socket closes first at shutdown, then the API (which closes the engine)."""
    import uvicorn

    lock = take_ownership(settings, f"run {kind}")
    try:
        tcp = uvicorn.Server(uvicorn.Config(app, **uvicorn_options))
        asyncio.run(_both(tcp, app, settings, kind))
    finally:
        lock.release()


async def _both(tcp: uvicorn.Server, app: FastAPI, settings: Settings, kind: str) -> None:
    task = asyncio.create_task(tcp.serve())
    while not tcp.started and not task.done():
        await asyncio.sleep(0.02)
    if task.done():
        await task
        return
    local = _Server(settings, app.state.engine, kind, signals=False)
    local_task = asyncio.create_task(local.serve())
    original = tcp.shutdown

    async def shutdown(sockets: list[socket.socket] | None = None) -> None:
        local.stop()
        await local_task
        await original(sockets)

    tcp.shutdown = shutdown  # type: ignore[method-assign]
    await task


class OwnerThread:
    """An owner in a thread of this process (``watch`` when none runs)."""

    def __init__(self, settings: Settings, kind: str) -> None:
        self._settings = settings
        self._kind = kind
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._server: _Server | None = None
        self._thread = threading.Thread(target=self._main, name="codeweaver-owner", daemon=True)

    def start(self) -> None:
        self._lock = take_ownership(self._settings, f"run {self._kind}")
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        try:
            engine = _open_engine(self._settings)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        try:
            self._server = _Server(self._settings, engine, self._kind, signals=False)
            _run(self._server.serve(self._ready.set))
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()
            engine.close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        self._thread.join(30)
        self._lock.release()


def _run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)
