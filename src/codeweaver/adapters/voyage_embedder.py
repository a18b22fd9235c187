"""Voyage AI embeddings (``voyage-code-3`` by default, ``voyage-code-2``) over HTTP.

Documents and queries are embedded with ``input_type`` ``document`` / ``query``;
``voyage-code-3`` takes an ``output_dimension`` of 256, 512, 1024 (default) or 2048.
One request carries at most 1,000 texts and 120,000 tokens.
"""

from __future__ import annotations

from typing import Any

from codeweaver.adapters.http_retry import HttpJsonClient
from codeweaver.adapters.remote_embedder import RemoteEmbedder
from codeweaver.errors import ConfigError

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MODEL", "MAX_TEXTS", "MAX_TOKENS", "VoyageEmbedder"]

DEFAULT_BASE_URL = "https://api.voyageai.com/v1"
DEFAULT_MODEL = "voyage-code-3"
MAX_TEXTS = 1000
MAX_TOKENS = 120_000
# model -> (default dimension, dimensions it can output)
_MODELS: dict[str, tuple[int, frozenset[int]]] = {
    "voyage-code-3": (1024, frozenset({256, 512, 1024, 2048})),
    "voyage-code-2": (1536, frozenset({1536})),
}


def voyage_dimension(model: str, requested: int | None) -> int:
    known = _MODELS.get(model)
    if known is None:
        if requested is None:
            raise ConfigError(
                f"invalid setting 'embedding.dimensions' (CODEWEAVER_EMBEDDING__DIMENSIONS): "
                f"required for Voyage model {model!r}"
            )
        return requested
    default, allowed = known
    if requested is not None and requested not in allowed:
        choices = ", ".join(str(d) for d in sorted(allowed))
        raise ConfigError(
            f"invalid setting 'embedding.dimensions' (CODEWEAVER_EMBEDDING__DIMENSIONS): "
            f"{model} outputs {choices} dimensions, not {requested}"
        )
    return requested or default


class VoyageEmbedder(RemoteEmbedder):
    def __init__(
        self,
        client: HttpJsonClient,
        model: str = DEFAULT_MODEL,
        dimensions: int | None = None,
        *,
        max_texts: int = MAX_TEXTS,
        max_tokens: int = MAX_TOKENS,
        concurrency: int = 4,
    ) -> None:
        dim = voyage_dimension(model, dimensions)
        super().__init__(
            client, model, dim, max_texts=max_texts, max_tokens=max_tokens, concurrency=concurrency
        )
        self._send_dimension = model in _MODELS and len(_MODELS[model][1]) > 1

    def body(self, texts: list[str], role: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "input": texts,
            "model": self.model_id,
            "input_type": role,
            "truncation": True,
        }
        if self._send_dimension:
            body["output_dimension"] = self.dim
        return body
