"""Where a command's store work runs: in the data directory's owner, or in-process.

``target_from`` returns the owner's client when an owner answers (the common case
with ``serve``, ``watch`` or an editor's ``mcp`` running). When none runs, it starts a
background owner if ``owner.autostart`` is set (or the command needs one), and
otherwise opens the store in this process for the command's run, holding the owner
lock so no owner starts meanwhile (measured: one in-process command costs what
starting an owner costs; see the README's "One owner per data directory").

Both targets answer with the same JSON shapes, so commands render one way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from codeweaver.owner.client import OwnerClient, connect
from codeweaver.owner.locate import OwnerPaths, quick_home

if TYPE_CHECKING:
    from codeweaver.config import Settings
    from codeweaver.engine import Engine
    from codeweaver.owner.record import OwnerLock

__all__ = ["InProcess", "Remote", "Target", "close_target", "target_from"]


class ProgressView(NamedTuple):
    files_done: int
    files_total: int
    chunks_done: int


OnProgress = Callable[[ProgressView], None]


class Target(Protocol):
    def search(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def status(self, project: str | None) -> dict[str, Any]: ...
    def projects(self) -> list[dict[str, Any]]: ...
    def remove(self, name: str) -> None: ...
    def index(self, body: dict[str, Any], on_progress: OnProgress) -> dict[str, Any]: ...
    def cache_report(self, top: int) -> dict[str, Any]: ...
    def cache_warm(self, project: str | None, top: int | None) -> dict[str, Any]: ...
    def cache_clear(self, project: str | None) -> dict[str, Any]: ...


class Remote:
    """Every call answered by the owner."""

    def __init__(self, client: OwnerClient) -> None:
        self.client = client

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client.call("POST", "/owner/v1/search", {**body, "cwd": os.getcwd()}))

    def status(self, project: str | None) -> dict[str, Any]:
        return dict(self.client.get("/owner/v1/status", project=project, cwd=os.getcwd()))

    def projects(self) -> list[dict[str, Any]]:
        return list(self.client.get("/owner/v1/projects")["projects"])

    def remove(self, name: str) -> None:
        self.client.remove_project(name)

    def index(self, body: dict[str, Any], on_progress: OnProgress) -> dict[str, Any]:
        body = {**body, "path": os.path.abspath(body["path"])}  # the owner's cwd differs
        for item in self.client.stream("/owner/v1/index", body):
            if "progress" in item:
                on_progress(ProgressView(*item["progress"]))
            elif "done" in item:
                return dict(item["done"])
        raise AssertionError("unreachable: a stream ends with done or error")

    def watch(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return self.client.stream("/owner/v1/watch", body)

    def cache_report(self, top: int) -> dict[str, Any]:
        return dict(self.client.get("/owner/v1/cache", top=top))

    def cache_warm(self, project: str | None, top: int | None) -> dict[str, Any]:
        body = {"project": project, "top": top}
        return dict(self.client.call("POST", "/owner/v1/cache/warm", body))

    def cache_clear(self, project: str | None) -> dict[str, Any]:
        return dict(self.client.call("POST", "/owner/v1/cache/clear", {"project": project}))

    def doctor(self) -> list[dict[str, Any]]:
        return list(self.client.call("POST", "/owner/v1/doctor")["checks"])


class InProcess:
    """Every call run by an engine of this process (no owner runs)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        from codeweaver.search.service import SearchRequest

        request = SearchRequest(
            body["query"],
            limit=body["limit"],
            language=body.get("language"),
            path=body.get("path"),
            kind=body.get("kind"),
        )
        result = self.engine.search(request, body.get("project"))
        out: dict[str, Any] = {
            "results": [h.as_dict() for h in result.hits],
            "took_ms": result.took_ms,
        }
        if result.degraded:
            out["degraded"] = True
        return out

    def status(self, project: str | None) -> dict[str, Any]:
        return self.engine.status(project)

    def projects(self) -> list[dict[str, Any]]:
        return self.engine.list_projects()

    def remove(self, name: str) -> None:
        self.engine.remove_project(name)

    def index(self, body: dict[str, Any], on_progress: OnProgress) -> dict[str, Any]:
        stats = self.engine.index(
            body["path"],
            body.get("project"),
            full=body.get("full", False),
            on_progress=lambda p: on_progress(
                ProgressView(p.files_done, p.files_total, p.chunks_done)
            ),
        )
        return stats.as_dict()

    def cache_report(self, top: int) -> dict[str, Any]:
        return self.engine.cache_report(top)

    def cache_warm(self, project: str | None, top: int | None) -> dict[str, Any]:
        if project is not None:
            self.engine.resolve_project(project)
        return self.engine.warm_cache(project, top)

    def cache_clear(self, project: str | None) -> dict[str, Any]:
        return {"removed": self.engine.clear_cache(project)}


_lock: OwnerLock | None = None


def _owner(config: Path | None) -> OwnerClient | None:
    home = quick_home(config)
    return connect(home) if home is not None else None


def target_from(config: Path | None, *, need_owner: bool = False) -> Remote | InProcess:
    """The running owner's client; else a new background owner (autostart or
    ``need_owner``); else this process's engine, under the owner lock."""
    client = _owner(config)
    if client is not None:
        return Remote(client)
    from codeweaver.cli.state import engine_from, settings_from

    settings = settings_from(config)
    if need_owner or settings.owner.autostart:
        from codeweaver.owner.launch import ensure_owner

        timeout = settings.owner.start_timeout_seconds
        return Remote(ensure_owner(settings.home, config, timeout))
    waited = _hold_lock(settings)
    if isinstance(waited, OwnerClient):
        return Remote(waited)
    return InProcess(engine_from(settings))


def _hold_lock(settings: Settings) -> OwnerClient | None:
    """Take the owner lock for this in-process run; an owner that appears meanwhile
    (it was starting) is used instead."""
    global _lock
    from codeweaver.errors import IndexingError
    from codeweaver.owner.record import OwnerLock, OwnerRecord

    if _lock is not None:
        return None
    paths = OwnerPaths(settings.home)
    lock = OwnerLock(paths)
    deadline = time.monotonic() + settings.owner.start_timeout_seconds
    while not lock.try_acquire():
        client = connect(settings.home)
        if client is not None:
            return client
        if time.monotonic() > deadline:
            lock.acquire(0, "run the command again")
            raise IndexingError("unreachable")  # acquire(0) raised already
        time.sleep(0.05)
    from codeweaver import __version__

    OwnerRecord(os.getpid(), "", __version__, "cli", time.time(), str(settings.home)).write(
        paths.record
    )
    _lock = lock
    return None


def close_target() -> None:
    """Release the in-process run's owner lock (after its engine closed)."""
    global _lock
    if _lock is not None:
        _lock.release()
        _lock = None
