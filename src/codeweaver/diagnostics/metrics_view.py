"""One set of questions about a deployment's metrics, answered from Prometheus (over a time
range) or from one scrape of the server's ``/metrics`` (since the process started).

Every answer is ``None`` (or absent from a dict) when the data is not there — never 0.
"""

from __future__ import annotations

import re
import time
from typing import Protocol

from codeweaver.adapters.prometheus_api import PrometheusClient
from codeweaver.diagnostics.promtext import Samples, histogram_quantile
from codeweaver.errors import InputError

__all__ = ["MetricsView", "PromView", "ScrapeView", "parse_range"]

REQ = "codeweaver_request_duration_seconds"
SEARCH = "codeweaver_search_latency_seconds"
RESULTS = "codeweaver_search_results_count"
REQUESTS = "codeweaver_requests_total"
HITS = "codeweaver_cache_hits_total"
MISSES = "codeweaver_cache_misses_total"
HIT_RATE = "codeweaver_cache_hit_rate"
CACHE_SIZE = "codeweaver_cache_size_bytes"
MEMORY = "codeweaver_memory_usage_bytes"
CPU = "codeweaver_cpu_usage_percent"
INDEX_OK = "codeweaver_index_last_success_timestamp_seconds"
RSS = "process_resident_memory_bytes"
_RANGE = re.compile(r"^[1-9][0-9]*[smhdw]$")
_PROCESS_COMPONENTS = ("process", "total")


def parse_range(text: str) -> str:
    if not _RANGE.match(text):
        raise InputError(f"invalid range {text!r}: use a number and a unit, e.g. 30m, 1h, 7d")
    return text


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return num / den


def _error_rates(errors: dict[str, float], totals: dict[str, float]) -> dict[str, float]:
    return {ep: errors.get(ep, 0.0) / n for ep, n in sorted(totals.items()) if n > 0}


def _hit_rates(
    hits: dict[str, float], misses: dict[str, float], gauge: dict[str, float]
) -> dict[str, float]:
    """From the counters where they exist (a cache with no lookups has no rate, whatever
    its gauge says), else from the gauge."""
    counted = set(hits) | set(misses)
    out = {kind: rate for kind, rate in gauge.items() if kind not in counted}
    for kind in counted:
        rate = _ratio(hits.get(kind, 0.0), hits.get(kind, 0.0) + misses.get(kind, 0.0))
        if rate is not None:
            out[kind] = rate
    return dict(sorted(out.items()))


def _process_memory(rss: float | None, by_component: dict[str, float]) -> float | None:
    if rss is not None:
        return rss
    for name in _PROCESS_COMPONENTS:
        if name in by_component:
            return by_component[name]
    return sum(by_component.values()) if by_component else None


class MetricsView(Protocol):
    source: str

    def request_quantile(self, q: float) -> float | None: ...
    def request_average(self) -> float | None: ...
    def search_quantile(self, q: float) -> float | None: ...
    def search_rate(self) -> float | None: ...
    def average_results(self) -> float | None: ...
    def error_rate(self) -> float | None: ...
    def error_rate_by_endpoint(self) -> dict[str, float]: ...
    def cache_hit_rate(self) -> dict[str, float]: ...
    def cache_size(self) -> dict[str, float]: ...
    def memory(self) -> dict[str, float]: ...
    def process_memory(self) -> float | None: ...
    def cpu(self) -> dict[str, float]: ...
    def index_last_success(self) -> dict[str, float]: ...


class _ErrorRates:
    """5xx rates from ``_status_split``: (5xx by endpoint, all requests by endpoint)."""

    def _status_split(self) -> tuple[dict[str, float], dict[str, float]]:
        raise NotImplementedError

    def error_rate(self) -> float | None:
        errors, totals = self._status_split()
        return _ratio(sum(errors.values()), sum(totals.values()) if totals else None)

    def error_rate_by_endpoint(self) -> dict[str, float]:
        return _error_rates(*self._status_split())


class ScrapeView(_ErrorRates):
    """Answers from one ``/metrics`` scrape: cumulative since the server process started."""

    def __init__(self, samples: Samples, source: str, now: float | None = None) -> None:
        self._s = samples
        self.source = source
        self._now = time.time() if now is None else now

    def request_quantile(self, q: float) -> float | None:
        return histogram_quantile(q, self._s.buckets(REQ))

    def request_average(self) -> float | None:
        return _ratio(self._s.total(f"{REQ}_sum"), self._s.total(f"{REQ}_count"))

    def search_quantile(self, q: float) -> float | None:
        return histogram_quantile(q, self._s.buckets(SEARCH))

    def search_rate(self) -> float | None:
        started = self._s.total("process_start_time_seconds")
        count = self._s.total(f"{SEARCH}_count")
        if started is None or count is None:
            return None
        return _ratio(count, self._now - started)

    def average_results(self) -> float | None:
        return _ratio(self._s.total(f"{RESULTS}_sum"), self._s.total(f"{RESULTS}_count"))

    def _status_split(self) -> tuple[dict[str, float], dict[str, float]]:
        totals = self._s.by(REQUESTS, "endpoint")
        errors: dict[str, float] = {}
        for s in self._s.get(REQUESTS):
            if s.label("status").startswith("5"):
                ep = s.label("endpoint")
                errors[ep] = errors.get(ep, 0.0) + s.value
        return errors, totals

    def cache_hit_rate(self) -> dict[str, float]:
        s = self._s
        return _hit_rates(
            s.by(HITS, "cache_type"), s.by(MISSES, "cache_type"), s.by(HIT_RATE, "cache_type")
        )

    def cache_size(self) -> dict[str, float]:
        return self._s.by(CACHE_SIZE, "cache_type")

    def memory(self) -> dict[str, float]:
        return self._s.by(MEMORY, "component")

    def process_memory(self) -> float | None:
        return _process_memory(self._s.total(RSS), self.memory())

    def cpu(self) -> dict[str, float]:
        return self._s.by(CPU, "component")

    def index_last_success(self) -> dict[str, float]:
        return self._s.by(INDEX_OK, "project")


class PromView(_ErrorRates):
    """Answers from Prometheus over the last ``window`` (rates, not totals)."""

    def __init__(self, client: PrometheusClient, window: str = "5m") -> None:
        self._c = client
        self._w = parse_range(window)
        self.source = f"Prometheus {client.base_url}, last {window}"

    def _quantile(self, histogram: str, q: float) -> float | None:
        return self._c.scalar(
            f"histogram_quantile({q}, sum by (le) (rate({histogram}_bucket[{self._w}])))"
        )

    def _mean(self, histogram: str) -> float | None:
        w = self._w
        return _ratio(
            self._c.scalar(f"sum(rate({histogram}_sum[{w}]))"),
            self._c.scalar(f"sum(rate({histogram}_count[{w}]))"),
        )

    def request_quantile(self, q: float) -> float | None:
        return self._quantile(REQ, q)

    def request_average(self) -> float | None:
        return self._mean(REQ)

    def search_quantile(self, q: float) -> float | None:
        return self._quantile(SEARCH, q)

    def search_rate(self) -> float | None:
        return self._c.scalar(f"sum(rate({SEARCH}_count[{self._w}]))")

    def average_results(self) -> float | None:
        return self._mean(RESULTS)

    def _status_split(self) -> tuple[dict[str, float], dict[str, float]]:
        w = self._w
        errors = self._c.by(
            f'sum by (endpoint) (increase({REQUESTS}{{status=~"5.."}}[{w}]))', "endpoint"
        )
        totals = self._c.by(f"sum by (endpoint) (increase({REQUESTS}[{w}]))", "endpoint")
        return errors, totals

    def cache_hit_rate(self) -> dict[str, float]:
        w = self._w
        return _hit_rates(
            self._c.by(f"sum by (cache_type) (increase({HITS}[{w}]))", "cache_type"),
            self._c.by(f"sum by (cache_type) (increase({MISSES}[{w}]))", "cache_type"),
            self._c.by(f"avg by (cache_type) ({HIT_RATE})", "cache_type"),
        )

    def cache_size(self) -> dict[str, float]:
        return self._c.by(f"sum by (cache_type) ({CACHE_SIZE})", "cache_type")

    def memory(self) -> dict[str, float]:
        return self._c.by(f"sum by (component) ({MEMORY})", "component")

    def process_memory(self) -> float | None:
        return _process_memory(self._c.scalar(f"max({RSS})"), self.memory())

    def cpu(self) -> dict[str, float]:
        return self._c.by(f"sum by (component) ({CPU})", "component")

    def index_last_success(self) -> dict[str, float]:
        return self._c.by(f"max by (project) ({INDEX_OK})", "project")
