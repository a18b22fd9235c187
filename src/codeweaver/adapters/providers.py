"""Builds the remote embedding providers from ``embedding`` settings."""

from __future__ import annotations

from pathlib import Path

from codeweaver.adapters import openai_embedder, voyage_embedder
from codeweaver.adapters.http_retry import CircuitBreaker, HttpJsonClient, RetryPolicy
from codeweaver.adapters.remote_embedder import RemoteEmbedder
from codeweaver.config import EmbeddingSettings
from codeweaver.errors import ConfigError

__all__ = ["build_remote_embedder", "read_api_key"]


def read_api_key(cfg: EmbeddingSettings) -> str | None:
    if cfg.api_key is not None:
        return cfg.api_key.get_secret_value().strip() or None
    if cfg.api_key_file is None:
        return None
    path = Path(cfg.api_key_file).expanduser()
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            "invalid setting 'embedding.api_key_file' (CODEWEAVER_EMBEDDING__API_KEY_FILE): "
            f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}"
        ) from exc


def build_remote_embedder(cfg: EmbeddingSettings) -> RemoteEmbedder:
    """The ``voyage`` or ``openai`` provider described by ``cfg``."""
    voyage = cfg.provider == "voyage"
    module = voyage_embedder if voyage else openai_embedder
    key = read_api_key(cfg)
    if voyage and key is None:
        raise ConfigError(
            "invalid setting 'embedding.api_key' (CODEWEAVER_EMBEDDING__API_KEY): the voyage "
            "provider needs an API key (or embedding.api_key_file)"
        )
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    client = HttpJsonClient(
        "Voyage AI" if voyage else "embeddings API",
        cfg.base_url or module.DEFAULT_BASE_URL,
        headers,
        timeout=cfg.timeout,
        policy=RetryPolicy(max_retries=cfg.max_retries),
        breaker=CircuitBreaker(cfg.breaker_failures, cfg.breaker_reset_seconds),
        concurrency=cfg.concurrency,
    )
    cls = voyage_embedder.VoyageEmbedder if voyage else openai_embedder.OpenAIEmbedder
    return cls(
        client,
        cfg.model or module.DEFAULT_MODEL,
        cfg.dimensions,
        max_texts=cfg.max_batch_texts or module.MAX_TEXTS,
        max_tokens=cfg.max_batch_tokens or module.MAX_TOKENS,
        concurrency=cfg.concurrency,
    )
