"""BM25 sparse vectors for Qdrant's IDF modifier.

Documents carry the BM25 term-frequency component
``tf·(k1+1) / (tf + k1·(1 - b + b·len/avg_len))``; Qdrant multiplies in the IDF at query
time (sparse vector ``modifier=idf``), so the store never needs corpus-wide rewrites when
files change. Queries carry weight 1 per distinct token. Token ids are stable 31-bit
hashes, so no vocabulary has to be stored or shared.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass

from codeweaver.core.tokenizer import tokenize
from codeweaver.types import SparseVec

__all__ = ["Bm25Encoder", "token_id"]


def token_id(token: str) -> int:
    return zlib.crc32(token.encode("utf-8")) & 0x7FFFFFFF


@dataclass(frozen=True, slots=True)
class Bm25Encoder:
    """Implements the ``SparseEncoder`` protocol."""

    k1: float = 1.2
    b: float = 0.75
    avg_len: float = 120.0
    stemming: bool = True

    def _vector(self, weights: dict[int, float]) -> SparseVec:
        items = sorted(weights.items())
        return SparseVec(tuple(i for i, _ in items), tuple(w for _, w in items))

    def encode_document(self, text: str) -> SparseVec:
        counts = Counter(tokenize(text, stemming=self.stemming))
        length = sum(counts.values())
        if not length:
            return SparseVec((), ())
        norm = self.k1 * (1.0 - self.b + self.b * length / self.avg_len)
        weights: dict[int, float] = {}
        for token, tf in counts.items():
            idx = token_id(token)
            weights[idx] = weights.get(idx, 0.0) + tf * (self.k1 + 1.0) / (tf + norm)
        return self._vector(weights)

    def encode_query(self, text: str) -> SparseVec:
        return self._vector({token_id(t): 1.0 for t in tokenize(text, stemming=self.stemming)})
