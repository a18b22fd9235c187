"""Plain data shared by every layer, and the Protocols the pipelines are written against.

Nothing here does I/O. Adapters implement the Protocols; pipelines (``index/``,
``search/``) only ever see these types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Cache",
    "Chunk",
    "Embedder",
    "Hit",
    "IndexEvent",
    "IndexStats",
    "SearchEvent",
    "SearchFilters",
    "SparseEncoder",
    "SparseVec",
    "StoreQuery",
    "StoredPoint",
    "VectorStore",
]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One searchable unit of a file.

    ``start_line``/``end_line`` are 1-based and inclusive. ``context`` is the text a
    reader needs to understand ``content`` out of its file (path, enclosing class,
    signature); it is prepended to the content for embedding.
    """

    path: str
    language: str
    kind: str
    symbol: str
    start_line: int
    end_line: int
    content: str
    content_hash: str
    context: str = ""

    @property
    def name(self) -> str:
        """The last component of the qualified symbol (``Class.method`` → ``method``)."""
        return self.symbol.rsplit(".", 1)[-1] if self.symbol else ""


@dataclass(frozen=True, slots=True)
class SparseVec:
    """A sparse vector: parallel, sorted, de-duplicated indices and their values."""

    indices: tuple[int, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.values):
            raise ValueError("sparse vector indices and values differ in length")

    @property
    def empty(self) -> bool:
        return not self.indices


@dataclass(frozen=True, slots=True)
class StoredPoint:
    """What a store keeps for one chunk: id, dense + sparse vectors and payload."""

    id: str
    dense: Sequence[float]
    sparse: SparseVec
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrictions a search applies inside the store.

    ``paths`` is the resolved set of project-relative paths a path glob selected
    (``None`` means no restriction). ``symbol`` matches the qualified symbol or its
    last component.
    """

    language: str | None = None
    kind: str | None = None
    symbol: str | None = None
    paths: tuple[str, ...] | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.language, self.kind, self.symbol, self.paths))


@dataclass(frozen=True, slots=True)
class StoreQuery:
    """A hybrid query as the store sees it.

    Either vector may be absent (dense-only, sparse-only). With both present the
    store runs one prefetch per side (``prefetch_limit`` each) and fuses them with
    weighted RRF (``rrf_k``, ``dense_weight``, ``sparse_weight``).
    """

    dense: Sequence[float] | None
    sparse: SparseVec | None
    limit: int
    filters: SearchFilters = field(default_factory=SearchFilters)
    prefetch_limit: int = 50
    rrf_k: int = 5
    dense_weight: float = 1.0
    sparse_weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result; ``snippet`` is the chunk's content."""

    path: str
    start_line: int
    end_line: int
    symbol: str
    kind: str
    language: str
    score: float
    snippet: str
    id: str = ""

    @classmethod
    def from_payload(cls, point_id: str, score: float, payload: dict[str, Any]) -> Hit:
        return cls(
            path=str(payload["path"]),
            start_line=int(payload["start_line"]),
            end_line=int(payload["end_line"]),
            symbol=str(payload.get("symbol", "")),
            kind=str(payload.get("kind", "")),
            language=str(payload.get("language", "")),
            score=float(score),
            snippet=str(payload.get("content", "")),
            id=str(point_id),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "symbol": self.symbol,
            "kind": self.kind,
            "language": self.language,
            "score": round(self.score, 6),
            "snippet": self.snippet,
        }


@dataclass(frozen=True, slots=True)
class IndexStats:
    """The outcome of one indexing run."""

    project: str
    files_total: int
    files_indexed: int
    files_unchanged: int
    files_deleted: int
    chunks_added: int
    chunks_total: int
    failures: tuple[tuple[str, str], ...]
    seconds: float
    commit: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape every edge reports an indexing run in."""
        return {
            "project": self.project,
            "files_total": self.files_total,
            "files_indexed": self.files_indexed,
            "files_unchanged": self.files_unchanged,
            "files_deleted": self.files_deleted,
            "chunks_added": self.chunks_added,
            "chunks_total": self.chunks_total,
            "failures": [{"path": p, "reason": r} for p, r in self.failures],
            "seconds": round(self.seconds, 3),
            "commit": self.commit,
        }


@dataclass(frozen=True, slots=True)
class SearchEvent:
    """What observers learn of one search; ``error`` set (``result_count`` 0) if it failed."""

    project: str
    query_type: str  # identifier | natural_language | invalid
    result_count: int
    seconds: float
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class IndexEvent:
    """What observers learn of one indexing run: ``stats`` if it finished, else ``error``."""

    project: str
    stats: IndexStats | None
    error: BaseException | None = None


@runtime_checkable
class Embedder(Protocol):
    """Turns text into dense, L2-normalised vectors."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


@runtime_checkable
class SparseEncoder(Protocol):
    """Turns text into sparse lexical vectors (BM25 term weights)."""

    def encode_document(self, text: str) -> SparseVec: ...

    def encode_query(self, text: str) -> SparseVec: ...


@runtime_checkable
class VectorStore(Protocol):
    """One project's collection of chunk points (named dense + sparse vectors).

    Payload keys every point carries: ``path``, ``language``, ``kind``, ``symbol``,
    ``symbol_keys`` (list: qualified symbol and its last component), ``start_line``,
    ``end_line``, ``content``, ``content_hash``.
    """

    def ensure(self, dim: int) -> None:
        """Create the collection (vectors + payload indexes) if it does not exist."""
        ...

    def upsert(self, points: Sequence[StoredPoint]) -> None: ...

    def delete_paths(self, paths: Sequence[str]) -> None:
        """Delete every point whose payload ``path`` is one of ``paths``."""
        ...

    def search(self, query: StoreQuery) -> list[Hit]: ...

    def count(self) -> int: ...

    def paths(self) -> set[str]:
        """Every distinct payload ``path`` in the collection."""
        ...

    def optimize(self) -> None: ...

    def flush(self) -> None: ...

    def storage_config(self) -> dict[str, Any]:
        """The store's effective storage parameters, as JSON (``backend`` first; the
        adapters document the rest)."""
        ...

    def close(self) -> None: ...

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        ...


@runtime_checkable
class Cache(Protocol):
    """A byte-valued key/value cache with per-entry time to live.

    Implementations never raise for an unavailable backend: ``get`` misses and ``set``
    is dropped, and ``health`` says so.
    """

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...

    def clear(self, prefix: str = "") -> int:
        """Remove every entry whose key starts with ``prefix``; return how many."""
        ...

    def health(self) -> tuple[str, str]:
        """``("healthy" | "degraded", detail)``."""
        ...
