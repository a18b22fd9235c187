"""``VectorStore`` over a Qdrant server collection (``qdrant-client`` 1.20).

One collection holds one project's chunks: named dense vector ``dense`` (cosine) and
named sparse vector ``sparse`` with ``Modifier.IDF`` (the server computes IDF; points
carry BM25 term-frequency weights); keyword payload indexes on ``path``, ``language``,
``kind`` and ``symbol_keys``. Hybrid queries run one prefetch per vector and fuse them
server-side with weighted RRF (``RrfQuery(rrf=Rrf(k=…, weights=[…]))``).

The same class works against ``QdrantClient(":memory:")`` (the client's local mode), which
the tests use. Local mode searches exactly and has no payload indexes, so the adapter
skips index creation and ``hnsw_ef`` there (both would only raise a warning); it is also
not thread-safe, so the adapter serialises its calls there.

Every client error (connection refused, timeout, ``UnexpectedResponse``, gRPC errors, the
local mode's ``ValueError``) leaves this module as ``StoreError``. A search on a collection
that does not exist yet returns no hits; ``count`` is then 0 and ``paths`` empty.

``optimize`` and ``flush`` do nothing: the server runs its optimizers on its own and every
write is sent with ``wait=True``, so it is in the server's WAL when the call returns.

The collection name may be an alias (a restored backup is swapped in behind one): reads and
writes go through it, and ``drop`` deletes the collection it points at.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import grpc
import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ApiException

from codeweaver.adapters import server_tuning
from codeweaver.adapters.store_tuning import StoreTuning
from codeweaver.adapters.vectors import as_floats
from codeweaver.errors import StoreError
from codeweaver.types import Hit, SearchFilters, SparseVec, StoredPoint, StoreQuery

__all__ = [
    "CLIENT_ERRORS",
    "DENSE",
    "SPARSE",
    "QdrantServerStore",
    "alias_target",
    "build_filter",
    "connect",
]

DENSE = "dense"
SPARSE = "sparse"
INDEXED_FIELDS = ("path", "language", "kind", "symbol_keys")
_DELETE_BATCH = 512
CLIENT_ERRORS = (ApiException, grpc.RpcError, httpx.HTTPError, OSError, ValueError)


def connect(
    url: str,
    *,
    api_key: str | None = None,
    timeout: float = 10.0,
    prefer_grpc: bool = False,
    pool_size: int | None = None,
) -> QdrantClient:
    """A client for the Qdrant server at ``url``.

    ``timeout`` (seconds) is rounded up to whole seconds, the client's unit. ``pool_size``
    caps the HTTP connection pool (and sizes the gRPC channel pool). No request is made
    here: the first store call reports an unreachable server.
    """
    if url == ":memory:":  # the client's in-process mode, for tests and demos
        return QdrantClient(location=":memory:")
    try:
        return QdrantClient(
            url=url,
            api_key=api_key,
            timeout=max(1, math.ceil(timeout)),
            prefer_grpc=prefer_grpc,
            pool_size=pool_size,
            check_compatibility=False,
        )
    except CLIENT_ERRORS as exc:
        raise StoreError(f"invalid Qdrant server address {url!r}: {exc}") from exc


def alias_target(client: QdrantClient, name: str) -> str | None:
    """The collection the alias ``name`` points at (``None``: ``name`` is no alias)."""
    for alias in client.get_aliases().aliases:
        if alias.alias_name == name:
            return str(alias.collection_name)
    return None


def _sparse(vec: SparseVec) -> models.SparseVector:
    return models.SparseVector(indices=list(vec.indices), values=list(vec.values))


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def build_filter(filters: SearchFilters) -> models.Filter | None:
    """The collection filter for ``filters`` (``None`` when nothing is restricted)."""
    must: list[models.Condition] = []
    if filters.language is not None:
        must.append(_match("language", filters.language))
    if filters.kind is not None:
        must.append(_match("kind", filters.kind))
    if filters.symbol is not None:
        must.append(_match("symbol_keys", filters.symbol))
    if filters.paths is not None:
        any_path = models.MatchAny(any=list(filters.paths))
        must.append(models.FieldCondition(key="path", match=any_path))
    return models.Filter(must=must) if must else None


class QdrantServerStore:
    """One project's chunks in the collection ``collection`` of a Qdrant server.

    ``tuning`` (optimizer, WAL and on-disk parameters, ``server_tuning``) shapes a new
    collection and is applied to an existing one by ``ensure``; ``on_disk`` alone is the
    same as ``tuning=StoreTuning(on_disk=...)``. Unset, collections are created in RAM.
    """

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        *,
        hnsw_m: int = 16,
        hnsw_ef_construct: int = 100,
        hnsw_ef: int | None = None,
        int8_quantization: bool = False,
        shard_number: int = 1,
        replication_factor: int = 1,
        on_disk: bool | None = None,
        owns_client: bool = False,
        upsert_batch: int = 256,
        tuning: StoreTuning | None = None,
    ) -> None:
        self._client = client
        self._name = collection
        self._hnsw = models.HnswConfigDiff(m=hnsw_m, ef_construct=hnsw_ef_construct)
        self._int8 = int8_quantization
        self._shards = (shard_number, replication_factor)
        self._tuning = tuning if tuning is not None else StoreTuning(on_disk=on_disk)
        self._on_disk = bool(self._tuning.on_disk)
        self._owns_client = owns_client
        self._upsert_batch = max(1, upsert_batch)
        options = client.init_options
        self._local = options.get("location") == ":memory:" or options.get("path") is not None
        use_ef = hnsw_ef is not None and not self._local
        self._params = models.SearchParams(hnsw_ef=hnsw_ef) if use_ef else None
        self._exists = False
        self._closed = False
        self._lock = threading.Lock()
        # Local mode is not thread-safe (a search racing an upsert can fail inside the
        # client), so calls are serialised there; a remote client is used concurrently.
        self._calls: AbstractContextManager[object] = (
            threading.RLock() if self._local else nullcontext()
        )

    @property
    def collection(self) -> str:
        return self._name

    @property
    def client(self) -> QdrantClient:
        return self._client

    def creation_params(self) -> dict[str, Any]:
        """How ``ensure`` creates the collection (besides the dimension), as JSON."""
        shard_number, replication_factor = self._shards
        return {
            "distance": models.Distance.COSINE.value,
            "sparse_modifier": models.Modifier.IDF.value,
            "hnsw_m": self._hnsw.m,
            "hnsw_ef_construct": self._hnsw.ef_construct,
            "int8_quantization": self._int8,
            "shard_number": shard_number,
            "replication_factor": replication_factor,
            "on_disk": self._on_disk,
        }

    # -- lifecycle -----------------------------------------------------------------

    def ensure(self, dim: int) -> None:
        if dim < 1:
            raise StoreError(f"vector dimension must be positive, got {dim}")
        with self._errors("create the collection"):
            if not self._collection_exists():
                try:
                    self._create(dim)
                except CLIENT_ERRORS:
                    if not self._client.collection_exists(self._name):
                        raise  # created concurrently by someone else otherwise
            info = self._client.get_collection(self._name)
            self._check_dim(info, dim)
            with self._lock:
                self._exists = True
            if self._local:
                return
            self._tune(info)
            for name in INDEXED_FIELDS:
                if name not in info.payload_schema:
                    self._client.create_payload_index(
                        self._name, name, models.PayloadSchemaType.KEYWORD, wait=True
                    )

    def storage_config(self) -> dict[str, Any]:
        """The collection's effective optimizer, WAL and on-disk parameters as the server
        reports them (``server_tuning``)."""
        with self._errors("read the configuration of the collection"):
            if not self._collection_exists():
                return {"backend": "server", "collection": self._name, "exists": False}
            info = self._client.get_collection(self._name)
        view = server_tuning.effective(self._tuning, info, DENSE, SPARSE)
        return {**view, "collection": self._name}

    def optimize(self) -> None:
        self._check_open()

    def flush(self) -> None:
        self._check_open()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._owns_client:
            with self._errors("close the client"):
                self._client.close()

    def drop(self) -> None:
        with self._errors("delete the collection"):
            self._check_open()
            # deleting a collection deletes its aliases; deleting an alias's name does nothing
            target = alias_target(self._client, self._name) or self._name
            if self._client.collection_exists(target):
                self._client.delete_collection(target)
            with self._lock:
                self._exists = False

    # -- writes --------------------------------------------------------------------

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        if not points:
            return
        with self._errors("write to the collection"):
            if not self._collection_exists():
                raise StoreError(f"collection {self._name!r} does not exist; ensure() creates it")
            step = self._upsert_batch
            for start in range(0, len(points), step):
                batch = [self._point(p) for p in points[start : start + step]]
                self._client.upsert(self._name, points=batch, wait=True)

    def delete_paths(self, paths: Sequence[str]) -> None:
        unique = sorted(set(paths))
        if not unique:
            return
        with self._errors("delete from the collection"):
            if not self._collection_exists():
                return
            for start in range(0, len(unique), _DELETE_BATCH):
                any_path = models.MatchAny(any=unique[start : start + _DELETE_BATCH])
                cond = models.FieldCondition(key="path", match=any_path)
                selector = models.FilterSelector(filter=models.Filter(must=[cond]))
                self._client.delete(self._name, points_selector=selector, wait=True)

    # -- reads ---------------------------------------------------------------------

    def search(self, query: StoreQuery, *, exact: bool = False) -> list[Hit]:
        """Top hits; ``exact`` searches without the HNSW index (the same results however
        far the server has built it: backups compare these)."""
        request = self._request(query, exact)
        if request is None:
            return []
        with self._errors("search the collection"):
            if not self._collection_exists():
                return []
            points = self._client.query_points(self._name, **request).points
        return [Hit.from_payload(str(p.id), p.score, p.payload or {}) for p in points]

    def count(self) -> int:
        with self._errors("count the collection"):
            if not self._collection_exists():
                return 0
            return int(self._client.count(self._name, exact=True).count)

    def paths(self) -> set[str]:
        with self._errors("list indexed paths"):
            if not self._collection_exists():
                return set()
            total = int(self._client.count(self._name, exact=True).count)
            if total == 0:
                return set()
            facet = self._client.facet(self._name, key="path", limit=total + 1, exact=True)
        return {str(hit.value) for hit in facet.hits if hit.count > 0}

    # -- helpers -------------------------------------------------------------------

    def _create(self, dim: int) -> None:
        quantization = None
        if self._int8:
            quantization = models.ScalarQuantization(
                scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, always_ram=True)
            )
        shard_number, replication_factor = self._shards
        self._client.create_collection(
            self._name,
            vectors_config={
                DENSE: models.VectorParams(
                    size=dim, distance=models.Distance.COSINE, on_disk=self._on_disk
                )
            },
            sparse_vectors_config={
                SPARSE: models.SparseVectorParams(
                    modifier=models.Modifier.IDF,
                    index=models.SparseIndexParams(on_disk=self._on_disk),
                )
            },
            hnsw_config=self._hnsw.model_copy(update={"on_disk": self._tuning.on_disk}),
            quantization_config=quantization,
            shard_number=shard_number,
            replication_factor=replication_factor,
            on_disk_payload=self._on_disk,
            **server_tuning.create_args(self._tuning),
        )

    def _tune(self, info: models.CollectionInfo) -> None:
        """Bring an existing collection to the configured parameters (one request with
        what differs; nothing when nothing does)."""
        changes = server_tuning.update_args(self._tuning, info, DENSE, SPARSE)
        if changes:
            target = alias_target(self._client, self._name) or self._name
            self._client.update_collection(target, **changes)

    def _check_dim(self, info: models.CollectionInfo, dim: int) -> None:
        vectors = info.config.params.vectors
        params = vectors.get(DENSE) if isinstance(vectors, dict) else None
        sparse = info.config.params.sparse_vectors or {}
        if params is None or SPARSE not in sparse:
            raise StoreError(
                f"collection {self._name!r} exists but lacks the {DENSE!r}/{SPARSE!r} vectors"
            )
        if params.size != dim:
            raise StoreError(
                f"collection {self._name!r} holds {params.size}-dimensional vectors, not {dim}; "
                "re-index the project to change the embedding model"
            )

    def _request(self, query: StoreQuery, exact: bool = False) -> dict[str, Any] | None:
        if query.rrf_k < 1:
            raise StoreError(f"rrf_k must be at least 1, got {query.rrf_k}")
        dense = as_floats(query.dense) if query.dense is not None and len(query.dense) else None
        sparse = (
            _sparse(query.sparse) if query.sparse is not None and not query.sparse.empty else None
        )
        if query.limit < 1 or query.filters.paths == () or (dense is None and sparse is None):
            return None
        flt = build_filter(query.filters)
        params = models.SearchParams(exact=True) if exact and not self._local else self._params
        base: dict[str, Any] = {"limit": query.limit, "query_filter": flt, "with_payload": True}
        if sparse is None:
            return {**base, "query": dense, "using": DENSE, "search_params": params}
        if dense is None:
            return {**base, "query": sparse, "using": SPARSE}
        depth = max(query.prefetch_limit, query.limit)
        prefetch = [
            models.Prefetch(query=dense, using=DENSE, limit=depth, filter=flt, params=params),
            models.Prefetch(query=sparse, using=SPARSE, limit=depth, filter=flt),
        ]
        weights = [query.dense_weight, query.sparse_weight]
        fusion = models.RrfQuery(rrf=models.Rrf(k=query.rrf_k, weights=weights))
        return {**base, "query": fusion, "prefetch": prefetch}

    def _point(self, point: StoredPoint) -> models.PointStruct:
        vectors: dict[str, Any] = {DENSE: as_floats(point.dense)}
        if not point.sparse.empty:
            vectors[SPARSE] = _sparse(point.sparse)
        return models.PointStruct(id=point.id, vector=vectors, payload=point.payload)

    def _collection_exists(self) -> bool:
        self._check_open()
        if not self._exists:
            exists = self._client.collection_exists(self._name)
            with self._lock:
                self._exists = exists
        return self._exists

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store for collection {self._name!r} is closed")

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            with self._calls:
                yield
        except StoreError:
            raise
        except CLIENT_ERRORS as exc:
            raise StoreError(f"could not {action} {self._name!r} in Qdrant: {exc}") from exc
