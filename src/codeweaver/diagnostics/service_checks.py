"""Doctor checks of the services behind CodeWeaver, asked directly: the Qdrant server's own
``/collections`` and the shared Redis cache's memory limit and eviction policy."""

from __future__ import annotations

from pathlib import Path

from codeweaver.adapters import http_get
from codeweaver.adapters.redis_cache import RedisCache
from codeweaver.diagnostics.checks import Status

__all__ = ["qdrant_collections", "redis_memory"]


def qdrant_collections(
    url: str, api_key: str | None, *, ca_file: Path | None = None, timeout: float = 10.0
) -> tuple[Status, str]:
    """Count the collections the Qdrant server itself lists (``GET /collections``)."""
    base = url.rstrip("/")
    resp = http_get.get(f"{base}/collections", token=api_key, ca_file=ca_file, timeout=timeout)
    if resp.status != 200:
        return "FAIL", f"Qdrant {base}/collections answered HTTP {resp.status}"
    body = resp.json()
    result = body.get("result") if isinstance(body, dict) else None
    found = result.get("collections") if isinstance(result, dict) else None
    if not isinstance(found, list):
        return "FAIL", f"Qdrant {base}/collections answered without a collection list"
    names = sorted(str(c.get("name")) for c in found if isinstance(c, dict))
    if not names:
        return "WARN", f"Qdrant {base} holds no collections (nothing indexed yet)"
    return "PASS", f"Qdrant {base}: {len(names)} collections ({', '.join(names)})"


def redis_memory(url: str, *, timeout: float = 1.0) -> tuple[Status, str]:
    """WARN when Redis has no memory limit or will not evict (it then refuses writes)."""
    cache = RedisCache(url, timeout=timeout)
    try:
        info = cache.info()
        where = cache.where
    finally:
        cache.close()
    if not info:
        return "FAIL", f"shared cache {where} unreachable"
    used = info["used_memory"] / 1024**2
    limit, policy = info["maxmemory"], info["maxmemory_policy"]
    problems = []
    if limit == 0:
        problems.append("no maxmemory limit (set maxmemory, e.g. 2gb)")
    if policy == "noeviction":
        problems.append("maxmemory-policy noeviction refuses writes when full (use allkeys-lru)")
    cap = f"{limit / 1024**2:.0f} MiB" if limit else "unlimited"
    detail = f"{where}: {used:.1f} MiB used of {cap}, policy {policy or 'unknown'}"
    if problems:
        return "WARN", f"{detail}; {'; '.join(problems)}"
    return "PASS", detail
