"""Background sampling of slow readings (project status, health checks) for scrapes.

A scrape must answer fast even while the model is busy, so readings that touch the
store or run the embedder are taken every ``interval`` seconds on a daemon thread and
the collector reads the latest one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["SAMPLE_INTERVAL_SECONDS", "Sampler"]

T = TypeVar("T")
SAMPLE_INTERVAL_SECONDS = 5.0
log = logging.getLogger("codeweaver.ops")


class Sampler(Generic[T]):
    """Calls ``read`` now and then every ``interval`` seconds until ``stop``."""

    def __init__(self, name: str, read: Callable[[], T], interval: float) -> None:
        self._name = name
        self._read = read
        self._interval = interval
        self._value: T | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sample-{name}", daemon=True)

    def start(self) -> Sampler[T]:
        """Take the first reading now, the next ones on the background thread."""
        self.sample()
        self._thread.start()
        return self

    def latest(self) -> T | None:
        """The last successful reading (``None`` before the first one)."""
        return self._value

    def sample(self) -> None:
        try:
            self._value = self._read()
        except Exception as exc:  # keep the previous reading; the next round retries
            log.debug("sampling %s failed: %s", self._name, exc)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
