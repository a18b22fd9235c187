"""The query result cache: finished searches by tenant, project, index version and request.

The index version changes with every index run that changes a project, so a re-index
makes old entries unreachable at once (they age out by TTL) without a scan.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from codeweaver.core.cache import CacheCounters
from codeweaver.search.service import SearchRequest, SearchResult
from codeweaver.types import Cache, Hit

__all__ = ["RESULTS_PREFIX", "ResultCache", "normalise_query", "request_dict"]

RESULTS_PREFIX = "cw:res:"


def normalise_query(text: str) -> str:
    """Queries differing only in surrounding or repeated whitespace are one entry."""
    return " ".join(text.split())


def request_dict(request: SearchRequest) -> dict[str, Any]:
    """The request with its query normalised: what identifies a search."""
    return {**asdict(request), "query": normalise_query(request.query)}


class ResultCache:
    def __init__(
        self, cache: Cache, ttl_seconds: float, counters: CacheCounters | None = None
    ) -> None:
        self._cache = cache
        self._ttl = ttl_seconds
        self.counters = counters or CacheCounters()

    @staticmethod
    def key(tenant: str, project: str, version: str, request: SearchRequest) -> str:
        ident = json.dumps([version, request_dict(request)], sort_keys=True)
        digest = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:40]
        return f"{RESULTS_PREFIX}{project}:{tenant}:{digest}"

    @staticmethod
    def project_prefix(project: str | None) -> str:
        return f"{RESULTS_PREFIX}{project}:" if project else RESULTS_PREFIX

    def get(self, key: str) -> SearchResult | None:
        data = self._cache.get(key)
        result = _decode(data) if data is not None else None
        self.counters.count(result is not None)
        return result

    def put(self, key: str, result: SearchResult) -> None:
        if result.degraded:
            return  # a sparse-only answer is not worth keeping once the embedder is back
        body = {
            "hits": [{**asdict(h)} for h in result.hits],
            "took_ms": result.took_ms,
            "query_type": result.query_type,
        }
        self._cache.set(key, json.dumps(body, separators=(",", ":")).encode(), self._ttl)


def _decode(data: bytes) -> SearchResult | None:
    try:
        body = json.loads(data)
        hits = [Hit(**h) for h in body["hits"]]
        return SearchResult(hits, float(body["took_ms"]), str(body["query_type"]))
    except (ValueError, KeyError, TypeError):
        return None  # a foreign or corrupt entry is a miss
