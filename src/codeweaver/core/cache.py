"""In-process caching: a byte-bounded LRU (level 1) and a two-level cache over any ``Cache``.

Pure logic with a lock; the shared level 2 (Redis) is an adapter behind the same
``Cache`` Protocol. Hit and miss counts belong to the user of a cache (one
``CacheCounters`` per cache type), not to the store.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from codeweaver.types import Cache

__all__ = ["CacheCounters", "LruCache", "TieredCache"]

_ENTRY_OVERHEAD = 64  # bytes charged per entry on top of key and value


class LruCache:
    """Least-recently-used cache bounded by ``max_bytes`` (keys + values + overhead).

    Entries expire after their TTL; an entry larger than the whole budget is not kept.
    """

    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self._max = max_bytes
        self._clock = clock
        self._items: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def _cost(key: str, value: bytes) -> int:
        return len(key) + len(value) + _ENTRY_OVERHEAD

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            value, expires = item
            if expires <= self._clock():
                self._drop(key)
                return None
            self._items.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        cost = self._cost(key, value)
        with self._lock:
            if key in self._items:
                self._drop(key)
            if cost > self._max or ttl_seconds <= 0:
                return
            self._items[key] = (value, self._clock() + ttl_seconds)
            self._bytes += cost
            while self._bytes > self._max:
                self._drop(next(iter(self._items)))

    def _drop(self, key: str) -> None:
        value, _ = self._items.pop(key)
        self._bytes -= self._cost(key, value)

    def clear(self, prefix: str = "") -> int:
        with self._lock:
            doomed = [k for k in self._items if k.startswith(prefix)]
            for key in doomed:
                self._drop(key)
            return len(doomed)

    def health(self) -> tuple[str, str]:
        return "healthy", f"in-process, {self.entries} entries"

    @property
    def size_bytes(self) -> int:
        return self._bytes

    @property
    def entries(self) -> int:
        return len(self._items)


class TieredCache:
    """Level 1 in front of an optional shared level 2; reads fill level 1 from level 2."""

    def __init__(self, l1: LruCache, l2: Cache | None = None) -> None:
        self.l1 = l1
        self.l2 = l2

    def get(self, key: str) -> bytes | None:
        value = self.l1.get(key)
        if value is not None or self.l2 is None:
            return value
        value = self.l2.get(key)
        if value is not None:
            self.l1.set(key, value, _L1_REFILL_TTL)
        return value

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self.l1.set(key, value, ttl_seconds)
        if self.l2 is not None:
            self.l2.set(key, value, ttl_seconds)

    def clear(self, prefix: str = "") -> int:
        removed = self.l1.clear(prefix)
        if self.l2 is not None:
            removed = max(removed, self.l2.clear(prefix))
        return removed

    def health(self) -> tuple[str, str]:
        if self.l2 is None:
            return "healthy", "in-process only (no shared cache configured)"
        return self.l2.health()


# A value copied from level 2 stays in level 1 at most this long, so entries another
# replica invalidated or that expired in level 2 do not live on here much longer.
_L1_REFILL_TTL = 300.0


@dataclass(slots=True)
class CacheCounters:
    """Hits and misses of one cache type (``embedding``, ``results``)."""

    hits: int = 0
    misses: int = 0

    def count(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1

    def snapshot(self, l1: LruCache) -> dict[str, int]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "size_bytes": l1.size_bytes,
            "entries": l1.entries,
        }
