"""``VectorStore`` over Qdrant Edge: an embedded, in-process Qdrant shard in one folder.

One shard holds one project's chunks: a named dense vector ``dense`` (cosine) and a named
sparse vector ``sparse`` with the IDF modifier (the shard computes IDF from its own
statistics; points carry BM25 term-frequency weights). ``path``, ``language``, ``kind``
and ``symbol_keys`` get keyword payload indexes.

Behaviour of ``qdrant-edge-py`` 0.9.0 this adapter relies on (each one measured):

* **Durability.** The shard is created with its write-ahead log enabled. An ``upsert``
  survives a ``SIGKILL`` of the process before any ``flush()``: 5,000 points upserted in
  a child process that is then killed are all there on reopen (``bench/edge_durability.py``
  and a test; with the WAL disabled the same run reopens with 0 points). ``flush()`` only
  shortens WAL replay on the next open.
* **Threads.** No call releases the GIL, so calls from different threads never overlap,
  and a long ``optimize()`` (about 3 minutes for 100k x 384 float vectors on 2 cores, 1 to 1.5
  minutes with int8 quantization) or a large update stalls every other Python thread of
  the process. Upserts are therefore sent in batches of ``upsert_batch`` points so a
  searching thread can run between them, and a shard of ``child_optimize_points`` points
  or more is optimized out of process (below). A lock still guards every call, so the store
  stays correct should a later binding release the GIL, and so that ``close``/``drop``
  cannot race an operation.
* **IDF.** Sparse IDF statistics keep counting deleted points (even after ``optimize`` of
  a small segment) until their segment is vacuumed or rebuilt, so sparse scores after
  many deletes can differ from a fresh index; rankings are affected only mildly.
* **Errors.** The binding raises plain ``Exception`` (and ``ValueError`` for bad ids);
  every call is wrapped and re-raised as ``StoreError``.
* **Dimension.** A shard does not expose its config; a query with a vector of the wrong
  size fails with "Vector dimension error", which ``ensure`` uses to detect a mismatch.
* **Facets.** An exact facet on ``path`` also lists values whose points were all deleted,
  with count 0; ``paths()`` drops those.
* **Filters.** A filter on the query request also restricts its prefetches; it is set on
  both anyway.

**Optimizing out of process.** ``optimize`` of a large shard flushes it, copies its
folder to ``<shard>-next`` and runs ``optimize()`` on the copy in a child process
(``edge_optimize``) while this process keeps serving the current shard; then, under the
lock, the optimized copy is swapped in: ``<shard>`` is renamed to ``<shard>-prev``,
``<shard>-next`` to ``<shard>`` (directory fsynced), the new shard is opened and the old
one removed. A write that lands after the copy was taken discards the copy (the served
shard has the newer data). Opening a store finishes or undoes an interrupted swap: a
missing ``<shard>`` with a ``<shard>-prev`` gets the previous generation back, and
leftover ``-next``/``-prev`` folders are removed, so a ``kill -9`` of the child or of
this process at any point leaves a complete shard; the optimization is redone by the next
index run. A failed child raises ``StoreError``.

A search before ``ensure`` (no shard on disk yet) returns no hits, as do ``count``
(0) and ``paths`` (empty); ``upsert`` before ``ensure`` raises ``StoreError``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from codeweaver.adapters import edge_tuning
from codeweaver.adapters.store_tuning import StoreTuning
from codeweaver.adapters.vectors import as_floats
from codeweaver.errors import StoreError
from codeweaver.types import Hit, SearchFilters, SparseVec, StoredPoint, StoreQuery

__all__ = [
    "DENSE",
    "INDEXED_FIELDS",
    "SPARSE",
    "EdgeStore",
    "build_filter",
    "generation_paths",
    "recover_swap",
]

DENSE = "dense"
SPARSE = "sparse"
INDEXED_FIELDS = ("path", "language", "kind", "symbol_keys")
_DELETE_BATCH = 512


def _sparse(vec: SparseVec) -> qe.SparseVector:
    return qe.SparseVector(list(vec.indices), list(vec.values))


def build_filter(filters: SearchFilters) -> qe.Filter | None:
    """The shard filter for ``filters`` (``None`` when nothing is restricted)."""
    must: list[Any] = []
    if filters.language is not None:
        must.append(qe.FieldCondition("language", match=qe.MatchValue(filters.language)))
    if filters.kind is not None:
        must.append(qe.FieldCondition("kind", match=qe.MatchValue(filters.kind)))
    if filters.symbol is not None:
        must.append(qe.FieldCondition("symbol_keys", match=qe.MatchValue(filters.symbol)))
    if filters.paths is not None:
        must.append(qe.FieldCondition("path", match=qe.MatchAny(list(filters.paths))))
    return qe.Filter(must=must) if must else None


def generation_paths(path: Path) -> tuple[Path, Path]:
    """The folders of an optimized copy being built and of the generation it replaces."""
    return path.with_name(path.name + "-next"), path.with_name(path.name + "-prev")


def recover_swap(path: Path) -> None:
    """Finish or undo a swap a crash interrupted, so ``path`` holds a complete shard."""
    fresh, prev = generation_paths(path)
    if not path.exists() and prev.is_dir():
        os.rename(prev, path)  # crashed between the two renames: the previous one serves
        _fsync_dir(path.parent)
    _remove(fresh)
    _remove(prev)


def _remove(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EdgeStore:
    """One project's chunks in an embedded Qdrant Edge shard stored under ``path``.

    ``hnsw_m``, ``hnsw_ef_construct``, ``int8_quantization`` and
    ``full_scan_threshold_kb`` (segments smaller than this are scanned exactly) shape the
    shard and only take effect when ``ensure`` creates it. ``hnsw_ef`` (``None``: the
    shard's default) and ``oversampling`` (int8 candidates re-scored with the original
    vectors) apply to every dense search. ``tuning`` (optimizer and on-disk parameters,
    ``edge_tuning``) shapes a new shard and is applied to an existing one when it opens.
    """

    def __init__(
        self,
        path: Path,
        *,
        hnsw_m: int = 16,
        hnsw_ef_construct: int = 100,
        hnsw_ef: int | None = None,
        int8_quantization: bool = False,
        oversampling: float = 2.0,
        full_scan_threshold_kb: int = 10_000,
        max_search_threads: int | None = None,
        upsert_batch: int = 256,
        tuning: StoreTuning | None = None,
        child_optimize_points: int = 20_000,
    ) -> None:
        self._path = Path(path)
        self._tuning = tuning or StoreTuning()
        self._child_points = child_optimize_points  # 0: always optimize in this process
        self._writes = 0  # bumped by every write: a copy taken before one is stale
        self._hnsw = (hnsw_m, hnsw_ef_construct, full_scan_threshold_kb)
        self._int8 = int8_quantization
        rescore = (
            qe.QuantizationSearchParams(rescore=True, oversampling=oversampling)
            if int8_quantization
            else None
        )
        use_params = hnsw_ef is not None or rescore is not None
        self._params = (
            qe.SearchParams(hnsw_ef=hnsw_ef, quantization=rescore) if use_params else None
        )
        self._max_search_threads = max_search_threads
        self._upsert_batch = max(1, upsert_batch)
        self._lock = threading.RLock()
        self._shard: qe.EdgeShard | None = None
        self._dim: int | None = None
        self._closed = False
        recover_swap(self._path)
        if self._path.is_dir() and any(self._path.iterdir()):
            with self._errors("open the index"):
                stored = edge_tuning.stored_config(self._path)
                config = edge_tuning.load_config(self._tuning, stored)
                self._shard = qe.EdgeShard.load(str(self._path), config)

    @property
    def path(self) -> Path:
        return self._path

    # -- lifecycle -----------------------------------------------------------------

    def ensure(self, dim: int) -> None:
        if dim < 1:
            raise StoreError(f"vector dimension must be positive, got {dim}")
        with self._lock:
            shard = self._open_shard()
            if shard is None:
                with self._errors("create the index"):
                    self._path.mkdir(parents=True, exist_ok=True)
                    shard = qe.EdgeShard.create(str(self._path), self._config(dim))
                self._shard = shard
            else:
                self._check_dim(shard, dim)
            self._dim = dim
            with self._errors("create payload indexes"):
                present = set(shard.info().payload_schema)
                for name in INDEXED_FIELDS:
                    if name not in present:
                        op = qe.UpdateOperation.create_field_index(
                            name, qe.PayloadSchemaType.Keyword
                        )
                        shard.update(op)

    def optimize(self) -> None:
        with self._lock:
            shard = self._open_shard()
            if shard is None:
                return
            big = 0 < self._child_points <= self.count()
        if big:
            self._optimize_in_child()
            return
        with self._lock:
            shard = self._require_shard()
            with self._errors("optimize the index"):
                shard.optimize()

    def _optimize_in_child(self) -> None:
        """Optimize a copy in a child process, then swap it in (see the module doc)."""
        fresh, prev = generation_paths(self._path)
        with self._lock:
            shard = self._require_shard()
            with self._errors("flush the index"):
                shard.flush()
            writes = self._writes
        with self._errors("copy the index for optimizing"):
            _remove(fresh)
            shutil.copytree(self._path, fresh)  # searches go on: reads only
        argv = [sys.executable, "-m", "codeweaver.adapters.edge_optimize", str(fresh)]
        done = subprocess.run([*argv, str(os.getpid())], capture_output=True, text=True)
        if done.returncode != 0:
            _remove(fresh)
            why = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            raise StoreError(
                f"could not optimize the index at {self._path} in a child process: "
                f"{why[0]}; the index is intact, run the index again"
            )
        with self._lock:
            if self._closed or self._shard is None or self._writes != writes:
                _remove(fresh)  # the served shard changed meanwhile: it is the newer one
                return
            with self._errors("swap in the optimized index"):
                self._shard.close()
                self._shard = None
                os.rename(self._path, prev)
                os.rename(fresh, self._path)
                _fsync_dir(self._path.parent)
                self._shard = qe.EdgeShard.load(str(self._path))
                _remove(prev)

    def flush(self) -> None:
        with self._lock:
            shard = self._open_shard()
            if shard is not None:
                with self._errors("flush the index"):
                    shard.flush()

    def close(self) -> None:
        with self._lock:
            shard, self._shard = self._shard, None
            self._closed = True
            if shard is not None:
                with self._errors("close the index"):
                    shard.close()

    def drop(self) -> None:
        with self._lock:
            shard = self._open_shard()
            self._shard, self._dim = None, None
            with self._errors("delete the index"):
                if shard is not None:
                    shard.close()
                if self._path.exists():
                    shutil.rmtree(self._path)
            self._writes += 1

    # -- writes --------------------------------------------------------------------

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        if not points:
            return
        step = self._upsert_batch
        for start in range(0, len(points), step):
            batch = [self._point(p) for p in points[start : start + step]]
            with self._lock:
                shard = self._require_shard()
                self._writes += 1
                with self._errors("write to the index"):
                    shard.update(qe.UpdateOperation.upsert_points(batch))

    def delete_paths(self, paths: Sequence[str]) -> None:
        unique = sorted(set(paths))
        for start in range(0, len(unique), _DELETE_BATCH):
            cond = qe.FieldCondition(
                "path", match=qe.MatchAny(unique[start : start + _DELETE_BATCH])
            )
            with self._lock:
                shard = self._open_shard()
                if shard is None:
                    return
                self._writes += 1
                with self._errors("delete from the index"):
                    shard.update(qe.UpdateOperation.delete_points_by_filter(qe.Filter(must=[cond])))

    # -- reads ---------------------------------------------------------------------

    def search(self, query: StoreQuery) -> list[Hit]:
        request = self._request(query)
        if request is None:
            return []
        with self._lock:
            shard = self._open_shard()
            if shard is None:
                return []
            with self._errors("search the index"):
                scored = shard.query(request)
        return [Hit.from_payload(str(p.id), p.score, p.payload or {}) for p in scored]

    def count(self) -> int:
        with self._lock:
            shard = self._open_shard()
            if shard is None:
                return 0
            with self._errors("count the index"):
                return int(shard.count(qe.CountRequest(exact=True)))

    def sample_vectors(self, count: int, scan: int = 2000) -> list[dict[str, Any]]:
        """Up to ``count`` stored points spread over the first ``scan`` ids, with their own
        vectors: ``{"point", "dense", "sparse": {"indices", "values"}}`` (backup probes)."""
        if count < 1:
            return []
        with self._lock:
            shard = self._open_shard()
            if shard is None:
                return []
            with self._errors("read the index"):
                records, _ = shard.scroll(qe.ScrollRequest(limit=scan, with_vector=True))
        step = max(1, len(records) // count)
        out: list[dict[str, Any]] = []
        for rec in records[::step][:count]:
            vectors: dict[str, Any] = dict(rec.vector) if isinstance(rec.vector, dict) else {}
            dense, sparse = vectors.get(DENSE), vectors.get(SPARSE)
            if dense is None:
                continue
            out.append(
                {
                    "point": str(rec.id),
                    "dense": [float(x) for x in dense],
                    "sparse": {
                        "indices": [int(i) for i in sparse.indices] if sparse is not None else [],
                        "values": [float(v) for v in sparse.values] if sparse is not None else [],
                    },
                }
            )
        return out

    def storage_config(self) -> dict[str, Any]:
        """The shard's effective optimizer and on-disk parameters (``edge_tuning``)."""
        with self._lock:
            shard = self._open_shard()
            with self._errors("read the index configuration"):
                segments = int(shard.info().segments_count) if shard is not None else 0
                stored = edge_tuning.stored_config(self._path)
        view = edge_tuning.effective(self._tuning, stored, segments)
        return {**view, "path": str(self._path)}

    def paths(self) -> set[str]:
        with self._lock:
            shard = self._open_shard()
            if shard is None:
                return set()
            with self._errors("list indexed paths"):
                total = int(shard.count(qe.CountRequest(exact=True)))
                if total == 0:
                    return set()
                facet = shard.facet(qe.FacetRequest("path", limit=total + 1, exact=True))
        return {str(hit.value) for hit in facet.hits if hit.count > 0}

    # -- helpers -------------------------------------------------------------------

    def _config(self, dim: int) -> qe.EdgeConfig:
        m, ef_construct, full_scan = self._hnsw
        on_disk = self._tuning.on_disk
        return qe.EdgeConfig(
            vectors={
                DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine, on_disk=on_disk)
            },
            sparse_vectors={
                SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf, on_disk=on_disk)
            },
            hnsw_config=qe.HnswIndexConfig(
                m=m, ef_construct=ef_construct, full_scan_threshold=full_scan, on_disk=on_disk
            ),
            on_disk_payload=on_disk,
            optimizers=edge_tuning.optimizers(self._tuning),
            quantization_config=(
                qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99)
                if self._int8
                else None
            ),
            max_search_threads=self._max_search_threads,
            wal_enabled=True,
        )

    def _check_dim(self, shard: qe.EdgeShard, dim: int) -> None:
        if self._dim == dim:
            return
        probe = qe.Query.Nearest([1.0] + [0.0] * (dim - 1), using=DENSE)
        try:
            shard.query(qe.QueryRequest(limit=1, query=probe))
        except Exception as exc:
            raise StoreError(
                f"the index at {self._path} does not hold {dim}-dimensional vectors ({exc}); "
                "re-index the project to change the embedding model"
            ) from exc

    def _request(self, query: StoreQuery) -> qe.QueryRequest | None:
        if query.rrf_k < 1:
            raise StoreError(f"rrf_k must be at least 1, got {query.rrf_k}")
        dense = as_floats(query.dense) if query.dense is not None and len(query.dense) else None
        sparse = query.sparse if query.sparse is not None and not query.sparse.empty else None
        if query.limit < 1 or query.filters.paths == () or (dense is None and sparse is None):
            return None
        flt = build_filter(query.filters)
        dense_query = qe.Query.Nearest(dense, using=DENSE) if dense is not None else None
        sparse_query = (
            qe.Query.Nearest(_sparse(sparse), using=SPARSE) if sparse is not None else None
        )
        if dense_query is None or sparse_query is None:
            return qe.QueryRequest(
                limit=query.limit,
                query=dense_query or sparse_query,
                filter=flt,
                params=self._params if dense_query is not None else None,
                with_payload=True,
            )
        depth = max(query.prefetch_limit, query.limit)
        prefetches = [
            qe.Prefetch(limit=depth, query=dense_query, params=self._params, filter=flt),
            qe.Prefetch(limit=depth, query=sparse_query, filter=flt),
        ]
        # The stubs do not declare ``Fusion.Rrf`` a ``Fusion``; the binding accepts it.
        fusion: Any = qe.Fusion.Rrf(
            k=query.rrf_k, weights=[query.dense_weight, query.sparse_weight]
        )
        return qe.QueryRequest(
            limit=query.limit, prefetches=prefetches, query=fusion, filter=flt, with_payload=True
        )

    def _point(self, point: StoredPoint) -> qe.Point:
        vectors: dict[str, Any] = {DENSE: as_floats(point.dense)}
        if not point.sparse.empty:
            vectors[SPARSE] = _sparse(point.sparse)
        try:
            return qe.Point(point.id, vectors, point.payload)
        except Exception as exc:
            raise StoreError(f"invalid point {point.id!r}: {exc}") from exc

    def _open_shard(self) -> qe.EdgeShard | None:
        if self._closed:
            raise StoreError(f"the index at {self._path} is closed")
        return self._shard

    def _require_shard(self) -> qe.EdgeShard:
        shard = self._open_shard()
        if shard is None:
            raise StoreError(f"no index at {self._path} yet; it is created by ensure()")
        return shard

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"could not {action} at {self._path}: {exc}") from exc
