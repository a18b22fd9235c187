"""Turns search and indexing events into metrics and log lines.

``Telemetry.attach(engine)`` subscribes to an engine's listener lists; the server does
that at startup and ``detach`` at shutdown. Log lines (logger ``codeweaver.search``):
``search`` at INFO with ``query_type``, ``result_count``, ``duration_ms``, ``project``;
a failed search at ERROR with ``error_type``; a search refused for the caller's input
(unknown project, bad filter: ``InputError``/``NotFoundError``) as ``search rejected`` at
INFO with ``error_type`` (the service did not fail, so the line is neither a search nor an
error; ``codeweaver_errors_total`` still counts it by type); ``slow search`` at WARNING
past the threshold. Indexing runs log ``index`` (logger ``codeweaver.index``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from codeweaver.errors import InputError, NotFoundError
from codeweaver.telemetry.metrics import Metrics
from codeweaver.types import IndexEvent, SearchEvent

__all__ = ["Telemetry"]

search_log = logging.getLogger("codeweaver.search")
index_log = logging.getLogger("codeweaver.index")


class _Observable(Protocol):
    search_listeners: list[Callable[[SearchEvent], None]]
    index_listeners: list[Callable[[IndexEvent], None]]


class Telemetry:
    """Metrics (when ``metrics`` is given) and logs for every search and index run."""

    def __init__(self, metrics: Metrics | None, slow_search_ms: float = 1000.0) -> None:
        self.metrics = metrics
        self.slow_search_ms = slow_search_ms

    def attach(self, engine: _Observable) -> None:
        engine.search_listeners.append(self.on_search)
        engine.index_listeners.append(self.on_index)

    def detach(self, engine: _Observable) -> None:
        if self.on_search in engine.search_listeners:
            engine.search_listeners.remove(self.on_search)
        if self.on_index in engine.index_listeners:
            engine.index_listeners.remove(self.on_index)

    def on_search(self, event: SearchEvent) -> None:
        duration_ms = round(event.seconds * 1000.0, 3)
        fields: dict[str, Any] = {
            "event": "search",
            "query_type": event.query_type,
            "result_count": event.result_count,
            "duration_ms": duration_ms,
            "project": event.project,
            "component": "search",
        }
        if isinstance(event.error, InputError | NotFoundError):
            rejected = {**fields, "error_type": type(event.error).__name__}
            if self.metrics is not None:
                self.metrics.count_error(rejected["error_type"], "search")
            search_log.info("search rejected", extra=rejected)
            return
        if event.error is not None:
            error_type = type(event.error).__name__
            if self.metrics is not None:
                self.metrics.count_error(error_type, "search")
            search_log.error("search", extra={**fields, "error_type": error_type})
            return
        if self.metrics is not None:
            self.metrics.observe_search(event.query_type, event.seconds, event.result_count)
        search_log.info("search", extra=fields)
        if duration_ms > self.slow_search_ms:
            search_log.warning("slow search", extra=fields)

    def on_index(self, event: IndexEvent) -> None:
        fields: dict[str, Any] = {"event": "index", "project": event.project, "component": "index"}
        if event.error is not None or event.stats is None:
            error_type = type(event.error).__name__
            if self.metrics is not None:
                self.metrics.observe_index(event.project, 0, 0, 1)
                self.metrics.count_error(error_type, "index")
            index_log.error("index run failed", extra={**fields, "error_type": error_type})
            return
        stats = event.stats
        if self.metrics is not None:
            self.metrics.observe_index(
                event.project, stats.files_indexed, stats.chunks_added, len(stats.failures)
            )
        index_log.info(
            "index",
            extra={
                **fields,
                "duration_ms": round(stats.seconds * 1000.0, 3),
                "result_count": stats.files_indexed,
            },
        )
