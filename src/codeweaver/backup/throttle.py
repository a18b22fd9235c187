"""A byte-rate cap for the backup's copy, hash, pack and transfer loops.

A backup streams its data several times (copy, checksum, compress, upload, and again to
verify). Run at full speed next to a serving process it competes for memory bandwidth and
caches even at idle CPU priority, which shows in search tail latency; capping the rate
spreads the same work over a longer time in short bursts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Throttle"]


class Throttle:
    """Allow at most ``mb_per_second`` MiB/s through :meth:`consume` (``0``: no cap).

    Thread-safe: the transfer threads of an upload share one budget.
    """

    def __init__(
        self,
        mb_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if mb_per_second < 0:
            raise ValueError("mb_per_second must be >= 0")
        self.rate = mb_per_second * 2**20
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = clock()
        self.waited = 0.0

    @property
    def limited(self) -> bool:
        return self.rate > 0

    def consume_block(self, block: bytes) -> None:
        """Count ``block`` unless it is all zeros: the holes of sparse files read as zeros
        and cost next to nothing to copy, checksum or compress."""
        if self.rate > 0 and block.count(0) != len(block):
            self.consume(len(block))

    def consume(self, nbytes: int) -> None:
        """Account for ``nbytes`` just processed; wait as long as the cap requires.

        Work slower than the cap is never delayed, and time spent idle earns no burst
        beyond the chunk at hand."""
        if self.rate <= 0 or nbytes <= 0:
            return
        with self._lock:
            now = self._clock()
            self._next = max(self._next + nbytes / self.rate, now)
            delay = self._next - now
        if delay > 0:
            self.waited += delay
            self._sleep(delay)
