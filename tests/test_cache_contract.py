"""One contract for every ``Cache``: the in-process LRU, the two-level wrapper and Redis."""

from __future__ import annotations

import time

import pytest

from cache_services import redis_server  # noqa: F401
from codeweaver.adapters.redis_cache import RedisCache
from codeweaver.core.cache import LruCache, TieredCache
from codeweaver.types import Cache


@pytest.fixture(params=["lru", "tiered", "redis", "tiered+redis"])
def cache(request, redis_server):  # noqa: F811
    closers = []

    def redis_cache() -> RedisCache:
        c = RedisCache(redis_server.url, timeout=0.5)
        c.clear("")
        closers.append(c.close)
        return c

    kind = request.param
    if kind == "lru":
        yield LruCache(1 << 20)
    elif kind == "tiered":
        yield TieredCache(LruCache(1 << 20), LruCache(1 << 20))
    elif kind == "redis":
        yield redis_cache()
    else:
        yield TieredCache(LruCache(1 << 20), redis_cache())
    for close in closers:
        close()


def test_is_a_cache(cache):
    assert isinstance(cache, Cache)


def test_get_set_overwrite(cache):
    assert cache.get("cw:t:a") is None
    cache.set("cw:t:a", b"1", 60)
    cache.set("cw:t:a", b"22", 60)
    assert cache.get("cw:t:a") == b"22"
    cache.set("cw:t:bin", bytes(range(256)), 60)
    assert cache.get("cw:t:bin") == bytes(range(256))


def test_entries_expire(cache):
    cache.set("cw:t:short", b"x", 0.05)
    time.sleep(0.12)
    assert cache.get("cw:t:short") is None


def test_clear_by_prefix(cache):
    for key in ("cw:res:p1:a", "cw:res:p1:b", "cw:res:p2:a", "cw:emb:x"):
        cache.set(key, b"v", 60)
    assert cache.clear("cw:res:p1:") == 2
    assert cache.get("cw:res:p1:a") is None and cache.get("cw:res:p2:a") == b"v"
    assert cache.clear("") == 2 and cache.get("cw:emb:x") is None


def test_health(cache):
    status, detail = cache.health()
    assert status == "healthy" and detail
