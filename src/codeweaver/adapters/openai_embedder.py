"""Any OpenAI-compatible ``/v1/embeddings`` endpoint: OpenAI, Ollama, vLLM, TEI.

Known OpenAI models know their dimension (``text-embedding-3-*`` can be shortened
with ``dimensions``, which is then sent); for any other model the dimension must be
configured. OpenAI's limits are 2,048 inputs and 300,000 tokens per request; local
servers often take fewer inputs, set with ``embedding.max_batch_texts``.
"""

from __future__ import annotations

from typing import Any

from codeweaver.adapters.http_retry import HttpJsonClient
from codeweaver.adapters.remote_embedder import RemoteEmbedder
from codeweaver.errors import ConfigError

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MODEL", "MAX_TEXTS", "MAX_TOKENS", "OpenAIEmbedder"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "text-embedding-3-small"
MAX_TEXTS = 2048
MAX_TOKENS = 300_000
_MODELS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
_SHORTENABLE = {"text-embedding-3-small", "text-embedding-3-large"}


class OpenAIEmbedder(RemoteEmbedder):
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
        dim = dimensions or _MODELS.get(model)
        if dim is None:
            raise ConfigError(
                "invalid setting 'embedding.dimensions' (CODEWEAVER_EMBEDDING__DIMENSIONS): "
                f"required for model {model!r}"
            )
        super().__init__(
            client, model, dim, max_texts=max_texts, max_tokens=max_tokens, concurrency=concurrency
        )
        self._send_dimensions = dimensions is not None and model in _SHORTENABLE

    def body(self, texts: list[str], role: str) -> dict[str, Any]:
        body: dict[str, Any] = {"input": texts, "model": self.model_id, "encoding_format": "float"}
        if self._send_dimensions:
            body["dimensions"] = self.dim
        return body
