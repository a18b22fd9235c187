"""An ``Embedder`` that remembers vectors by model, dimension, role and text hash.

A chunk whose text was embedded before (a copied file, another replica's work through
the shared level 2) costs no model call; with ``document_key=strip_path_header`` a
moved file's chunks, whose context header names the new path, are found too (they keep
the vector computed under the old path; the BM25 side always sees the new one).
Identical texts within one call are embedded once.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable, Sequence

from codeweaver.core.cache import CacheCounters
from codeweaver.types import Cache, Embedder

__all__ = ["EMBEDDING_PREFIX", "CachingEmbedder", "strip_path_header"]

EMBEDDING_PREFIX = "cw:emb:"
_PATH_HEADER = "# path: "


def strip_path_header(text: str) -> str:
    """The embedded text without its first line when that line is the chunk's path header."""
    if text.startswith(_PATH_HEADER):
        return text.partition("\n")[2]
    return text


def _pack(vec: Sequence[float]) -> bytes:
    return array("f", vec).tobytes()


def _unpack(data: bytes) -> list[float]:
    out = array("f")
    out.frombytes(data)
    return out.tolist()


class CachingEmbedder:
    """Wraps ``inner``; vectors live in ``cache`` for ``ttl_seconds``."""

    def __init__(
        self,
        inner: Embedder,
        cache: Cache,
        ttl_seconds: float,
        counters: CacheCounters | None = None,
        document_key: Callable[[str], str] | None = None,
    ) -> None:
        self.inner = inner
        self._document_key = document_key or (lambda text: text)
        self._cache = cache
        self._ttl = ttl_seconds
        self.counters = counters or CacheCounters()

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def key(self, text: str, role: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return f"{EMBEDDING_PREFIX}{self.inner.model_id}:{self.inner.dim}:{role}:{digest}"

    def _lookup(self, key: str) -> list[float] | None:
        data = self._cache.get(key)
        vec = _unpack(data) if data is not None and len(data) == 4 * self.dim else None
        self.counters.count(vec is not None)
        return vec

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        keys = [self.key(self._document_key(t), "d") for t in texts]
        found: dict[str, list[float]] = {}
        missing: dict[str, str] = {}  # key -> text, first occurrence only
        for key, text in zip(keys, texts, strict=True):
            if key in found or key in missing:
                continue
            vec = self._lookup(key)
            if vec is None:
                missing[key] = text
            else:
                found[key] = vec
        if missing:
            vectors = self.inner.embed_documents(list(missing.values()))
            for key, vec in zip(missing, vectors, strict=True):
                found[key] = list(vec)
                self._cache.set(key, _pack(vec), self._ttl)
        return [found[k] for k in keys]

    def embed_query(self, text: str) -> list[float]:
        key = self.key(text, "q")
        vec = self._lookup(key)
        if vec is None:
            vec = list(self.inner.embed_query(text))
            self._cache.set(key, _pack(vec), self._ttl)
        return vec
