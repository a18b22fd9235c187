"""A deterministic in-memory VectorStore for pipeline tests, scored the way Qdrant scores.

* dense: exact cosine similarity;
* sparse: dot product of the stored weights with the query weights multiplied by IDF,
  ``idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))`` over the live points that have a sparse
  vector (Qdrant's ``Modifier.IDF``; Qdrant Edge keeps counting deleted points for a
  while, so scores may differ from it after deletes);
* hybrid: one prefetch per side (``max(prefetch_limit, limit)`` each), fused with Qdrant's
  weighted RRF: ``score = sum_i 1 / (k - 1 + rank_i / w_i)`` with 1-based ranks (a side with
  ``w_i <= 0`` contributes 0). With equal weights this is ``1 / (k + rank - 1)``.

Ties are broken by point id so results never depend on insertion order. ``state`` can be
shared between instances to model closing and reopening a store.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from codeweaver.errors import StoreError
from codeweaver.types import Hit, SearchFilters, SparseVec, StoredPoint, StoreQuery


@dataclass
class MemoryState:
    dim: int | None = None
    points: dict[str, StoredPoint] = field(default_factory=dict)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def _matches(payload: dict[str, Any], filters: SearchFilters) -> bool:
    if filters.language is not None and payload.get("language") != filters.language:
        return False
    if filters.kind is not None and payload.get("kind") != filters.kind:
        return False
    if filters.symbol is not None and filters.symbol not in payload.get("symbol_keys", ()):
        return False
    return filters.paths is None or payload.get("path") in filters.paths


class MemoryStore:
    def __init__(self, state: MemoryState | None = None) -> None:
        self.state = state if state is not None else MemoryState()
        self.closed = False
        self.optimized = 0
        self.flushed = 0

    # -- lifecycle ---------------------------------------------------------------------

    def ensure(self, dim: int) -> None:
        self._check_open()
        if dim < 1:
            raise StoreError(f"vector dimension must be positive, got {dim}")
        if self.state.dim is None:
            self.state.dim = dim
        elif self.state.dim != dim:
            raise StoreError(f"the store holds {self.state.dim}-dimensional vectors, not {dim}")

    def optimize(self) -> None:
        self._check_open()
        self.optimized += 1

    def flush(self) -> None:
        self._check_open()
        self.flushed += 1

    def storage_config(self) -> dict[str, Any]:
        self._check_open()
        return {"backend": "memory", "points": len(self.state.points)}

    def close(self) -> None:
        self.closed = True

    def drop(self) -> None:
        self._check_open()
        self.state.dim = None
        self.state.points.clear()

    # -- writes ------------------------------------------------------------------------

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        self._check_open()
        if not points:
            return
        if self.state.dim is None:
            raise StoreError("no collection yet; it is created by ensure()")
        for p in points:
            if len(p.dense) != self.state.dim:
                raise StoreError(f"expected dim {self.state.dim}, got {len(p.dense)}")
        for p in points:
            self.state.points[p.id] = StoredPoint(
                p.id, [float(x) for x in p.dense], p.sparse, dict(p.payload)
            )

    def delete_paths(self, paths: Sequence[str]) -> None:
        self._check_open()
        gone = set(paths)
        for pid in [i for i, p in self.state.points.items() if p.payload.get("path") in gone]:
            del self.state.points[pid]

    # -- reads -------------------------------------------------------------------------

    def count(self) -> int:
        self._check_open()
        return len(self.state.points)

    def paths(self) -> set[str]:
        self._check_open()
        return {str(p.payload["path"]) for p in self.state.points.values()}

    def search(self, query: StoreQuery) -> list[Hit]:
        self._check_open()
        if query.rrf_k < 1:
            raise StoreError(f"rrf_k must be at least 1, got {query.rrf_k}")
        dense = query.dense if query.dense is not None and len(query.dense) else None
        sparse = query.sparse if query.sparse is not None and not query.sparse.empty else None
        if self.state.dim is None or query.limit < 1 or (dense is None and sparse is None):
            return []
        if dense is not None and len(dense) != self.state.dim:
            raise StoreError(f"expected dim {self.state.dim}, got {len(dense)}")
        pool = [p for p in self.state.points.values() if _matches(p.payload, query.filters)]
        if sparse is None:
            return self._hits(self._dense(pool, dense)[: query.limit])
        if dense is None:
            return self._hits(self._sparse(pool, sparse)[: query.limit])
        depth = max(query.prefetch_limit, query.limit)
        sides = [
            (self._dense(pool, dense)[:depth], query.dense_weight),
            (self._sparse(pool, sparse)[:depth], query.sparse_weight),
        ]
        return self._hits(_rrf(sides, query.rrf_k)[: query.limit])

    # -- scoring -----------------------------------------------------------------------

    def _dense(self, pool: list[StoredPoint], vec: Sequence[float]) -> list[tuple[float, str]]:
        return _ranked((_cosine(vec, p.dense), p.id) for p in pool)

    def _sparse(self, pool: list[StoredPoint], vec: SparseVec) -> list[tuple[float, str]]:
        idf = self._idf(vec.indices)
        query = {i: v * idf[i] for i, v in zip(vec.indices, vec.values, strict=True)}
        scored = []
        for p in pool:
            terms = zip(p.sparse.indices, p.sparse.values, strict=True)
            products = [query[i] * v for i, v in terms if i in query]
            if products:
                scored.append((sum(products), p.id))
        return _ranked(scored)

    def _idf(self, indices: Sequence[int]) -> dict[int, float]:
        docs = [set(p.sparse.indices) for p in self.state.points.values() if not p.sparse.empty]
        n = len(docs)
        out = {}
        for i in indices:
            df = sum(1 for d in docs if i in d)
            out[i] = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        return out

    def _hits(self, ranked: list[tuple[float, str]]) -> list[Hit]:
        return [
            Hit.from_payload(pid, score, dict(self.state.points[pid].payload))
            for score, pid in ranked
        ]

    def _check_open(self) -> None:
        if self.closed:
            raise StoreError("the store is closed")


def _ranked(scored: Any) -> list[tuple[float, str]]:
    return sorted(scored, key=lambda sp: (-sp[0], sp[1]))


def _rrf(sides: list[tuple[list[tuple[float, str]], float]], k: int) -> list[tuple[float, str]]:
    fused: dict[str, float] = {}
    for ranked, weight in sides:
        for rank, (_, pid) in enumerate(ranked, start=1):
            gain = 1.0 / (k - 1 + rank / weight) if weight > 0 else 0.0
            fused[pid] = fused.get(pid, 0.0) + gain
    return _ranked((score, pid) for pid, score in fused.items())
