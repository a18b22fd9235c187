"""Token-bucket rate limits per user and per tenant (in this process)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from codeweaver.errors import RateLimitedError

__all__ = ["RateLimiter", "TokenBucket"]

_MAX_BUCKETS = 10_000


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; each request takes one."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now

    def take(self, now: float) -> float:
        """0.0 when a token was taken, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    def __init__(
        self,
        user_rate: float,
        user_burst: int,
        tenant_rate: float,
        tenant_burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"user": (user_rate, user_burst), "tenant": (tenant_rate, tenant_burst)}
        self._buckets: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()
        self._lock = threading.Lock()
        self._clock = clock

    def _take(self, scope: str, key: str, now: float) -> float:
        rate, burst = self._limits[scope]
        if rate <= 0:
            return 0.0
        bucket = self._buckets.get((scope, key))
        if bucket is None:
            bucket = self._buckets[(scope, key)] = TokenBucket(rate, burst, now)
            if len(self._buckets) > _MAX_BUCKETS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end((scope, key))
        return bucket.take(now)

    def check(self, user: str, tenant: str) -> None:
        """Take one token from the user's and the tenant's bucket, or raise 429."""
        with self._lock:
            now = self._clock()
            for scope, key in (("user", user), ("tenant", tenant)):
                wait = self._take(scope, key, now)
                if wait > 0:
                    raise RateLimitedError(
                        f"rate limit exceeded for this {scope}; retry later",
                        retry_after=float(max(1, math.ceil(wait))),
                    )
