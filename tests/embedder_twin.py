"""A deterministic in-memory Embedder for pipeline tests: hashed bag of words."""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

from codeweaver.core.tokenizer import tokenize


class HashEmbedder:
    def __init__(self, dim: int = 64, model_id: str = "hash-64") -> None:
        self._dim = dim
        self._model_id = model_id
        self.calls = 0
        self.texts = 0

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        return self._dim

    def _one(self, text: str) -> list[float]:
        vec = [0.0] * self._dim
        for tok in tokenize(text):
            h = zlib.crc32(tok.encode())
            vec[h % self._dim] += 1.0 if (h >> 16) & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        if norm == 1.0 and not any(vec):
            vec[0] = 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        self.texts += len(texts)
        return [self._one(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._one(text)
