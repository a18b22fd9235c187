"""Wrappers that measure any ``Embedder`` or ``VectorStore`` without touching adapters.

The composition root wraps the real embedder and every project's store; each call is
counted and timed (``codeweaver_embedding_*``, ``codeweaver_vector_*``) and a failure is
counted in ``codeweaver_errors_total`` and logged with its component (``embedding`` or
``vector_store``) before it propagates unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from codeweaver.telemetry.logs import log_component_error
from codeweaver.telemetry.metrics import Metrics
from codeweaver.types import Embedder, Hit, StoredPoint, StoreQuery, VectorStore

__all__ = ["InstrumentedEmbedder", "InstrumentedStore", "provider_name"]

T = TypeVar("T")
log = logging.getLogger("codeweaver.ops")


def provider_name(embedder: Embedder) -> str:
    """A bounded provider label: the embedder's ``provider`` attribute, else its model id."""
    provider = getattr(embedder, "provider", None)
    return str(provider) if isinstance(provider, str) and provider else embedder.model_id


class InstrumentedEmbedder:
    """An ``Embedder`` that reports every call of ``inner``."""

    def __init__(self, inner: Embedder, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics
        self._provider = provider_name(inner)

    @property
    def inner(self) -> Embedder:
        return self._inner

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def dim(self) -> int:
        return self._inner.dim

    def _call(self, fn: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            out = fn()
        except Exception as exc:
            self._metrics.observe_embedding(self._provider, time.perf_counter() - started, False)
            self._metrics.count_error(type(exc).__name__, "embedding")
            log_component_error(log, "embedding", exc, f"embedding failed: {exc}")
            raise
        self._metrics.observe_embedding(self._provider, time.perf_counter() - started, True)
        return out

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self._call(lambda: self._inner.embed_documents(texts))

    def embed_query(self, text: str) -> list[float]:
        return self._call(lambda: self._inner.embed_query(text))

    def __getattr__(self, name: str) -> Any:  # provider-specific extras pass through
        return getattr(self._inner, name)


class InstrumentedStore:
    """A ``VectorStore`` that reports every call of ``inner`` under ``collection``."""

    def __init__(self, inner: VectorStore, collection: str, metrics: Metrics) -> None:
        self._inner = inner
        self._collection = collection
        self._metrics = metrics

    @property
    def inner(self) -> VectorStore:
        return self._inner

    def _call(self, operation: str, fn: Callable[[], T]) -> T:
        pool = self._metrics.pool_in_use
        pool.inc()
        started = time.perf_counter()
        try:
            out = fn()
        except Exception as exc:
            elapsed = time.perf_counter() - started
            self._metrics.observe_vector_op(operation, self._collection, elapsed, False)
            self._metrics.count_error(type(exc).__name__, "vector_store")
            log_component_error(log, "vector_store", exc, f"vector store {operation} failed: {exc}")
            raise
        finally:
            pool.dec()
        self._metrics.observe_vector_op(
            operation, self._collection, time.perf_counter() - started, True
        )
        return out

    def ensure(self, dim: int) -> None:
        self._call("ensure", lambda: self._inner.ensure(dim))

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        self._call("upsert", lambda: self._inner.upsert(points))

    def delete_paths(self, paths: Sequence[str]) -> None:
        self._call("delete", lambda: self._inner.delete_paths(paths))

    def search(self, query: StoreQuery) -> list[Hit]:
        return self._call("search", lambda: self._inner.search(query))

    def count(self) -> int:
        return self._call("count", self._inner.count)

    def paths(self) -> set[str]:
        return self._call("paths", self._inner.paths)

    def optimize(self) -> None:
        self._call("optimize", self._inner.optimize)

    def flush(self) -> None:
        self._call("flush", self._inner.flush)

    def storage_config(self) -> dict[str, Any]:
        return self._inner.storage_config()

    def close(self) -> None:
        self._call("close", self._inner.close)

    def drop(self) -> None:
        self._call("drop", self._inner.drop)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
