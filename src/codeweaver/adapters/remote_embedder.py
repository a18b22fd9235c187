"""What the hosted embedding providers share: batching within the API's limits on
texts and tokens, concurrent requests, response checks and normalisation.

Both Voyage and OpenAI-compatible servers answer ``{"data": [{"index", "embedding"}]}``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from codeweaver.adapters.http_retry import HttpJsonClient, RequestTooLarge
from codeweaver.errors import EmbeddingError

__all__ = ["QUERY_RETRIES", "RemoteEmbedder", "estimate_tokens", "plan_batches"]

QUERY_RETRIES = 1  # a search would rather answer from BM25 than wait out a long backoff
PROBE_FRESH_SECONDS = 30.0  # a request that succeeded this recently answers a health check
PROBE_RETRY_SECONDS = 10.0  # after a failure, health checks send a probe again after this


def estimate_tokens(text: str) -> int:
    """An upper estimate of the tokens ``text`` costs a hosted embedding API.

    The providers' tokenizers are not available offline. Code averages about four UTF-8
    bytes per token; one token per three bytes (plus one) over-counts almost every text,
    so requests sized with it stay within the per-request token limit (and a request
    the provider still finds too large is split in two).
    """
    return len(text.encode("utf-8")) // 3 + 1


def plan_batches(tokens: Sequence[int], max_texts: int, max_tokens: int) -> list[list[int]]:
    """Indices grouped into requests of at most ``max_texts`` texts and ``max_tokens``
    tokens: first-fit decreasing, so requests are filled close to the limits. A text
    over the token limit on its own gets a request of its own (the API truncates it)."""
    order = sorted(range(len(tokens)), key=lambda i: -tokens[i])
    bins: list[list[int]] = []
    room: list[int] = []
    open_bins: list[int] = []  # bins that still take texts, in creation order
    for i in order:
        cost = tokens[i]
        for b in open_bins:
            if room[b] >= cost:
                break
        else:
            bins.append([])
            room.append(max_tokens)
            b = len(bins) - 1
            open_bins.append(b)
        bins[b].append(i)
        room[b] -= cost
        if len(bins[b]) >= max_texts or room[b] <= 0:
            open_bins.remove(b)
    return [sorted(b) for b in bins]


class RemoteEmbedder:
    """Base of the HTTP providers; subclasses build the request body."""

    endpoint = "/embeddings"

    def __init__(
        self,
        client: HttpJsonClient,
        model: str,
        dim: int,
        *,
        max_texts: int,
        max_tokens: int,
        concurrency: int = 4,
    ) -> None:
        self.client = client
        self._model = model
        self._dim = dim
        self.max_texts = max_texts
        self.max_tokens = max_tokens
        self._concurrency = concurrency

    @property
    def model_id(self) -> str:
        return self._model

    @property
    def dim(self) -> int:
        return self._dim

    def close(self) -> None:
        self.client.close()

    def probe(self) -> tuple[str, str]:
        """Health without spending a request when the last one tells enough: the breaker
        is open, or the last finished request failed less than 10 s ago: ``degraded``; it
        succeeded less than 30 s ago: ``healthy``; otherwise one query is sent."""
        name, what = self.client.name, f"{self._model} ({self._dim} dims)"
        last = self.client.last_outcome
        age = time.monotonic() - last[0] if last is not None else math.inf
        if self.client.breaker.state == "open" or (
            last is not None and not last[1] and age < PROBE_RETRY_SECONDS
        ):
            return "degraded", f"{name} is failing; searches answer from BM25 alone"
        if last is not None and last[1] and age < PROBE_FRESH_SECONDS:
            return "healthy", f"{what}, answered {age:.0f}s ago"
        try:
            self.embed_query("health check")
        except EmbeddingError as exc:
            return "degraded", f"searching without embeddings (keyword only): {exc}"
        return "healthy", what

    def body(self, texts: list[str], role: str) -> dict[str, Any]:
        raise NotImplementedError

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        items = list(texts)
        if not items:
            return []
        batches = plan_batches([estimate_tokens(t) for t in items], self.max_texts, self.max_tokens)
        if len(batches) == 1:
            results = [self._embed_split(items, "document")]
        else:
            workers = min(self._concurrency, len(batches))
            with ThreadPoolExecutor(workers, thread_name_prefix="embed") as pool:
                results = list(
                    pool.map(
                        lambda b: self._embed_split([items[i] for i in b], "document"), batches
                    )
                )
        out: list[list[float]] = [[] for _ in items]
        for batch, vectors in zip(batches, results, strict=True):
            for i, vec in zip(batch, vectors, strict=True):
                out[i] = vec
        return out

    def embed_query(self, text: str) -> list[float]:
        retries = min(QUERY_RETRIES, self.client.policy.max_retries)
        return self._request([text], "query", retries=retries)[0]

    def _embed_split(self, texts: list[str], role: str) -> list[list[float]]:
        """One request; halved and retried if the provider counts more tokens than we did."""
        try:
            return self._request(texts, role)
        except RequestTooLarge:
            if len(texts) == 1:
                raise
            half = len(texts) // 2
            return self._embed_split(texts[:half], role) + self._embed_split(texts[half:], role)

    def _request(
        self, texts: list[str], role: str, retries: int | None = None
    ) -> list[list[float]]:
        data = self.client.post(self.endpoint, self.body(texts, role), retries=retries)
        return self._parse(data, len(texts))

    def _parse(self, data: Any, expected: int) -> list[list[float]]:
        name = self.client.name
        try:
            rows = sorted(data["data"], key=lambda r: int(r["index"]))
            vectors = [[float(x) for x in r["embedding"]] for r in rows]
        except (KeyError, TypeError, ValueError):
            raise EmbeddingError(f"{name} returned a malformed embeddings body") from None
        if len(vectors) != expected:
            raise EmbeddingError(f"{name} returned {len(vectors)} embeddings for {expected} texts")
        for vec in vectors:
            if len(vec) != self._dim:
                raise EmbeddingError(
                    f"{name} returned {len(vec)}-dimensional vectors, expected {self._dim} "
                    f"for {self._model}; check embedding.dimensions"
                )
        return [_normalise(v) for v in vectors]


def _normalise(vec: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vec))
    if not math.isfinite(norm) or norm == 0.0:
        raise EmbeddingError("provider returned a zero or non-finite vector")
    return [x / norm for x in vec]
