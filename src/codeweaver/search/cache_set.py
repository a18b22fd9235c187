"""The caches an Engine uses, built by the container: embeddings, results, popular queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codeweaver.core.cache import CacheCounters, LruCache, TieredCache
from codeweaver.core.embedding_cache import EMBEDDING_PREFIX
from codeweaver.search.popular import PopularQueries
from codeweaver.search.result_cache import ResultCache
from codeweaver.types import Embedder

__all__ = ["DEFAULT_WARM_PHRASES", "CacheSet"]

DEFAULT_WARM_PHRASES = (
    "function definition",
    "class declaration",
    "import statement",
    "error handling",
    "database query",
    "API endpoint",
    "test case",
    "configuration",
)


@dataclass(slots=True)
class CacheSet:
    """``embedder`` is the caching embedder (over ``embedding_store``, counting into
    ``embedding_counters``) used for indexing, searching and warming."""

    embedder: Embedder | None = None
    embedding_store: TieredCache | None = None
    embedding_counters: CacheCounters = field(default_factory=CacheCounters)
    results: ResultCache | None = None
    results_store: TieredCache | None = None
    popular: PopularQueries | None = None
    warm_phrases: tuple[str, ...] = DEFAULT_WARM_PHRASES
    warm_top_n: int = 50
    warm_after_index: bool = True

    def stats(self) -> dict[str, dict[str, int]]:
        """Per cache type: hits, misses, and the bytes and entries held in process."""
        empty = LruCache(0)
        emb_l1 = self.embedding_store.l1 if self.embedding_store else empty
        res_l1 = self.results_store.l1 if self.results_store else empty
        res_counters = self.results.counters if self.results else CacheCounters()
        return {
            "embedding": self.embedding_counters.snapshot(emb_l1),
            "results": res_counters.snapshot(res_l1),
        }

    def health(self) -> tuple[str, str]:
        store = self.results_store or self.embedding_store
        if store is None:
            return "healthy", "caching disabled"
        return store.health()

    def shared_info(self) -> dict[str, Any]:
        """Status of the shared level 2 (and its memory and keys, when it can tell)."""
        store = self.results_store or self.embedding_store
        l2 = store.l2 if store is not None else None
        if l2 is None:
            return {"configured": False}
        status, detail = l2.health()
        info = getattr(l2, "info", None)
        extra: dict[str, Any] = info() if callable(info) else {}
        return {"configured": True, "status": status, "detail": detail, **extra}

    def clear(self, project: str | None = None) -> dict[str, int]:
        """Drop cached results (of one project, or all) and, for all projects, embeddings."""
        out = {"results": 0, "embedding": 0}
        if self.results_store is not None:
            out["results"] = self.results_store.clear(ResultCache.project_prefix(project))
        if project is None and self.embedding_store is not None:
            out["embedding"] = self.embedding_store.clear(EMBEDDING_PREFIX)
        return out

    def close(self) -> None:
        """Flush the query counts and release the shared cache's connections."""
        if self.popular is not None:
            self.popular.close()
        store = self.results_store or self.embedding_store
        closer = getattr(store.l2, "close", None) if store is not None else None
        if callable(closer):
            closer()
