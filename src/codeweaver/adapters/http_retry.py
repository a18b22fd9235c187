"""JSON over HTTP for remote providers: retries with backoff and jitter, ``Retry-After``,
bounded concurrency and a circuit breaker. Every failure leaves as ``EmbeddingError``.

Retried: 429, 5xx, timeouts and connection errors. Not retried: other 4xx (bad key,
bad request) and malformed bodies. The breaker opens after ``failure_threshold``
consecutive failed attempts and then fails calls at once for ``reset_seconds``; the
next call after that is a trial whose success closes it again.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from codeweaver.errors import EmbeddingError

__all__ = ["CircuitBreaker", "HttpJsonClient", "RequestTooLarge", "RetryPolicy"]


class RequestTooLarge(EmbeddingError):
    """The provider refused a request as too large (split it and try again)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        cap = min(self.max_delay, self.base_delay * 2.0**attempt)
        return cap / 2 + rng() * cap / 2


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failure_threshold
        self._reset = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self._clock() - self._opened_at >= self._reset else "open"

    def before(self, name: str) -> None:
        """Raise while open; after ``reset_seconds`` let one trial call through."""
        with self._lock:
            if self._opened_at is None:
                return
            waited = self._clock() - self._opened_at
            if waited < self._reset:
                raise EmbeddingError(
                    f"{name} is unavailable (circuit open after {self._failures} failures; "
                    f"next try in {self._reset - waited:.0f}s)"
                )
            self._opened_at = self._clock()  # one trial per reset period

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self._threshold:
                self._opened_at = self._clock()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _api_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        text = response.text
    else:
        detail = body.get("detail") or body.get("error") if isinstance(body, dict) else body
        if isinstance(detail, dict):
            detail = detail.get("message", detail)
        text = str(detail)
    text = " ".join(text.split())
    return text[:200] or response.reason_phrase


class _Retryable(Exception):
    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.wait = wait


class HttpJsonClient:
    """POSTs JSON to ``base_url``; safe to share between threads."""

    def __init__(
        self,
        name: str,
        base_url: str,
        headers: dict[str, str],
        *,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        concurrency: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.policy = policy or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(concurrency)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout,
            limits=httpx.Limits(max_connections=concurrency),
        )
        self.requests = 0  # attempts sent, for benchmarks and tests
        # (monotonic time, succeeded) of the last call that finished, for health checks
        self.last_outcome: tuple[float, bool] | None = None

    def close(self) -> None:
        self._http.close()

    def post(self, path: str, body: dict[str, Any], retries: int | None = None) -> Any:
        """The response's JSON body; retries transient failures up to ``retries`` times."""
        limit = self.policy.max_retries if retries is None else retries
        attempt = 0
        while True:
            self.breaker.before(self.name)
            try:
                result = self._attempt(path, body)
            except _Retryable as exc:
                self.breaker.failure()
                if attempt >= limit:
                    self.last_outcome = (time.monotonic(), False)
                    raise EmbeddingError(
                        f"{self.name} failed after {attempt + 1} attempts: {exc}"
                    ) from None
                wait = self.policy.backoff(attempt) if exc.wait is None else exc.wait
                self._sleep(min(wait, self.policy.max_retry_after))
                attempt += 1
                continue
            except RequestTooLarge:
                raise  # the caller's batch, not the provider, is at fault
            except EmbeddingError:
                self.breaker.failure()
                self.last_outcome = (time.monotonic(), False)
                raise
            self.breaker.success()
            self.last_outcome = (time.monotonic(), True)
            return result

    def _attempt(self, path: str, body: dict[str, Any]) -> Any:
        with self._slots:
            self.requests += 1
            try:
                response = self._http.post(path, json=body)
            except httpx.TimeoutException:
                raise _Retryable("request timed out") from None
            except httpx.TransportError as exc:
                raise _Retryable(f"connection failed: {type(exc).__name__}") from None
        status = response.status_code
        if status == 429 or status >= 500:
            wait = _retry_after(response.headers.get("retry-after"))
            raise _Retryable(f"HTTP {status}: {_api_message(response)}", wait)
        if status == 413 or (status == 400 and "token" in _api_message(response).lower()):
            raise RequestTooLarge(f"{self.name} refused the batch as too large (HTTP {status})")
        if status >= 400:
            raise EmbeddingError(f"{self.name} answered HTTP {status}: {_api_message(response)}")
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError):
            raise EmbeddingError(f"{self.name} returned a body that is not JSON") from None
