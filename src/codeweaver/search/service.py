"""Hybrid search: dense + BM25 prefetch fused by weighted RRF, filters, definitions first."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from codeweaver.core.pathglob import compile_glob
from codeweaver.core.query import ParsedQuery, parse_query, validate_limit
from codeweaver.core.ranking import dedupe_overlaps, definitions_first
from codeweaver.core.signals import RerankParams, adaptive_weights, rerank
from codeweaver.errors import EmbeddingError
from codeweaver.types import Embedder, Hit, SearchFilters, SparseEncoder, StoreQuery, VectorStore

__all__ = ["FusionParams", "SearchRequest", "SearchResult", "SearchService", "resolve_glob"]

log = logging.getLogger("codeweaver.search")


@dataclass(frozen=True, slots=True)
class SearchRequest:
    query: str
    limit: int = 10
    language: str | None = None
    path: str | None = None  # gitignore-style glob, relative to the project root
    kind: str | None = None
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """``degraded``: the embedder failed, so only the sparse (BM25) side answered."""

    hits: list[Hit]
    took_ms: float
    query_type: str
    degraded: bool = False


@dataclass(frozen=True, slots=True)
class FusionParams:
    prefetch_limit: int = 50
    rrf_k: int = 5
    dense_weight: float = 1.0
    sparse_weight: float = 1.0
    max_query_chars: int = 2000
    use_dense: bool = True
    use_sparse: bool = True
    definitions_first: bool = True
    rerank: RerankParams = field(default_factory=RerankParams)
    adaptive_weights: float = 0.0


def resolve_glob(pattern: str, paths: Iterable[str]) -> tuple[str, ...]:
    """The project paths a gitignore-style glob selects (``src/``, ``*.py``, ``**/test_*``)."""
    glob = compile_glob(pattern)
    return tuple(sorted(p for p in paths if glob.match(p)))


class SearchService:
    def __init__(
        self,
        embedder: Embedder,
        sparse: SparseEncoder,
        params: FusionParams | None = None,
    ) -> None:
        self._embedder = embedder
        self._sparse = sparse
        self._params = params or FusionParams()
        self._degraded = False  # to log the start and end of an outage once each

    def search(
        self,
        store: VectorStore,
        request: SearchRequest,
        known_paths: Callable[[], Iterable[str]],
        params: FusionParams | None = None,
    ) -> SearchResult:
        """Run one search; ``params`` overrides the configured fusion for this call."""
        started = time.perf_counter()
        p = params or self._params
        parsed = parse_query(request.query, max_chars=p.max_query_chars)
        limit = validate_limit(request.limit)
        filters = self._filters(request, known_paths)
        if filters.paths == ():
            return SearchResult([], _ms(started), parsed.query_type)
        hits, degraded = self._hybrid(store, parsed, limit, filters, p)
        hits = rerank(hits, parsed.text, p.rerank)
        if parsed.identifier and p.definitions_first:
            hits = definitions_first(
                hits, self._definitions(store, parsed, filters), parsed.identifier
            )
        hits = dedupe_overlaps(hits)[:limit]
        return SearchResult(hits, _ms(started), parsed.query_type, degraded)

    def _filters(
        self, request: SearchRequest, known_paths: Callable[[], Iterable[str]]
    ) -> SearchFilters:
        paths = resolve_glob(request.path, known_paths()) if request.path else None
        return SearchFilters(
            language=request.language or None,
            kind=request.kind or None,
            symbol=request.symbol or None,
            paths=paths,
        )

    def _hybrid(
        self,
        store: VectorStore,
        parsed: ParsedQuery,
        limit: int,
        filters: SearchFilters,
        p: FusionParams,
    ) -> tuple[list[Hit], bool]:
        """The fused hits, and whether the dense side was lost to an embedder failure."""
        dense, degraded = None, False
        if p.use_dense:
            try:
                dense = self._embedder.embed_query(parsed.text)
            except EmbeddingError as exc:
                if not self._degraded:
                    log.warning("embedder unavailable, answering from BM25 alone: %s", exc)
                degraded = self._degraded = True
            else:
                if self._degraded:
                    log.warning("embedder is back; searches are hybrid again")
                self._degraded = False
        sparse = self._sparse.encode_query(parsed.text) if p.use_sparse else None
        if sparse is not None and sparse.empty:
            sparse = None
        if dense is None and sparse is None:
            return [], degraded
        dense_weight, sparse_weight = adaptive_weights(
            parsed.text, p.dense_weight, p.sparse_weight, p.adaptive_weights
        )
        query = StoreQuery(
            dense=dense,
            sparse=sparse,
            limit=min(2 * limit + 10, 200),
            filters=filters,
            prefetch_limit=max(p.prefetch_limit, limit),
            rrf_k=p.rrf_k,
            dense_weight=dense_weight,
            sparse_weight=sparse_weight,
        )
        return store.search(query), degraded

    def _definitions(
        self, store: VectorStore, parsed: ParsedQuery, filters: SearchFilters
    ) -> list[Hit]:
        ident = parsed.identifier or ""
        sparse = self._sparse.encode_query(ident)
        for key in dict.fromkeys((ident, ident.rsplit(".", 1)[-1])):
            query = StoreQuery(
                dense=None,
                sparse=None if sparse.empty else sparse,
                limit=10,
                filters=replace(filters, symbol=key),
            )
            if query.sparse is None:
                return []
            found = store.search(query)
            if found:
                return found
        return []


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)
