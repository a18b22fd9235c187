"""The shared level-2 cache: Redis, reached with short timeouts and never trusted to be up.

Every command has ``timeout`` (default 50 ms) to connect and answer, with no client
retries. When Redis fails, reads miss and writes are dropped (callers fall back to
their in-process level 1), one warning is logged for the whole outage, ``health``
reports ``degraded``, and Redis is tried again every ``retry_interval`` seconds until
it answers, which ends the outage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["RedisCache"]

log = logging.getLogger("codeweaver.cache")
T = TypeVar("T")
_SCAN_BATCH = 500


class RedisCache:
    """A ``Cache`` over one Redis database; safe to share between threads."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.05,
        retry_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
            driver_info=None,  # no CLIENT SETINFO round trips on each new connection
        )
        kwargs = self._client.connection_pool.connection_kwargs
        self._where = f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
        self._retry_interval = retry_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._down_reason = ""
        self._next_try = 0.0
        self.outages = 0

    # ----------------------------------------------------------------- state
    @property
    def available(self) -> bool:
        return self._down_since is None

    def _may_try(self) -> bool:
        with self._lock:
            return self._down_since is None or self._clock() >= self._next_try

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            self._next_try = self._clock() + self._retry_interval
            if self._down_since is not None:
                return
            self._down_since = self._clock()
            self._down_reason = f"{type(exc).__name__}: {exc}"
            self.outages += 1
        log.warning(
            "shared cache %s unavailable (%s); using the in-process cache until it is back",
            self._where,
            self._down_reason,
        )

    def _ok(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            seconds = self._clock() - self._down_since
            self._down_since = None
        log.warning("shared cache %s is back after %.1fs", self._where, seconds)

    def _call(self, op: Callable[[], T], fallback: T) -> T:
        if not self._may_try():
            return fallback
        try:
            result = op()
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return fallback
        self._ok()
        return result

    # ----------------------------------------------------------------- Cache
    def get(self, key: str) -> bytes | None:
        value: Any = self._call(lambda: self._client.get(key), None)
        return bytes(value) if value is not None else None

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        millis = max(1, int(ttl_seconds * 1000))
        self._call(lambda: self._client.set(key, value, px=millis), None)

    def clear(self, prefix: str = "") -> int:
        def run() -> int:
            removed = 0
            batch: list[Any] = []
            for key in self._client.scan_iter(match=_glob_escape(prefix) + "*", count=_SCAN_BATCH):
                batch.append(key)
                if len(batch) >= _SCAN_BATCH:
                    removed += int(self._client.unlink(*batch))
                    batch = []
            if batch:
                removed += int(self._client.unlink(*batch))
            return removed

        return self._call(run, 0)

    def health(self) -> tuple[str, str]:
        self._call(self._client.ping, None)
        if self._down_since is not None:
            since = self._clock() - self._down_since
            return (
                "degraded",
                f"shared cache {self._where} unreachable for {since:.0f}s "
                f"({self._down_reason}); serving from the in-process cache",
            )
        return "healthy", f"shared cache {self._where}"

    @property
    def where(self) -> str:
        """The server's address, without credentials."""
        return self._where

    def info(self) -> dict[str, Any]:
        """Memory use, limit and eviction policy, and key count (empty when unreachable)."""

        def run() -> dict[str, Any]:
            memory = self._client.info("memory")
            return {
                "used_memory": int(memory.get("used_memory", 0)),
                "maxmemory": int(memory.get("maxmemory", 0)),
                "maxmemory_policy": str(memory.get("maxmemory_policy", "")),
                "keys": int(self._client.dbsize()),
            }

        return self._call(run, {})

    def close(self) -> None:
        self._client.close()


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
