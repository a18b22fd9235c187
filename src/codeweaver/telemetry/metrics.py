"""Every Prometheus metric of CodeWeaver, defined once against an injected registry.

``METRICS`` declares each series (name as exposed, type, labels, help); the README's
metrics table lists the same (a test keeps them in step). ``Metrics(registry)`` creates
the instruments; code elsewhere reports through its small methods, never through
module globals.

Values that exist only at scrape time (cache statistics, memory and CPU, collection
sizes, index freshness, health) come from a collector reading ``Sources`` callables the
server fills in; a missing or failing source simply yields no samples.

Several worker processes: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable
directory shared by the workers *before* they start. Counters, histograms and gauges
are then kept in files there and ``exposition_registry()`` aggregates all workers;
scrape-time values come from the worker answering the scrape.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = [
    "HEALTH_VALUES",
    "METRICS",
    "MetricSpec",
    "Metrics",
    "Sources",
    "multiprocess_dir",
    "rss_bytes",
]

Kind = Literal["counter", "histogram", "gauge"]

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
FAST_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 10.0,
)  # fmt: skip
EMBED_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
COUNT_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200)
QUERY_TYPES = ("identifier", "natural_language")
HEALTH_VALUES = {"healthy": 1.0, "degraded": 0.5, "unhealthy": 0.0}


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str  # as exposed (counters end in _total)
    kind: Kind
    labels: tuple[str, ...]
    help: str


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "codeweaver_requests_total",
        "counter",
        ("method", "endpoint", "status", "tenant_id"),
        "HTTP requests answered.",
    ),
    MetricSpec(
        "codeweaver_request_duration_seconds",
        "histogram",
        ("method", "endpoint"),
        "HTTP request duration.",
    ),
    MetricSpec(
        "codeweaver_search_latency_seconds",
        "histogram",
        ("query_type",),
        "Search duration (successful searches).",
    ),
    MetricSpec("codeweaver_search_results_count", "histogram", (), "Results returned per search."),
    MetricSpec("codeweaver_cache_hits_total", "counter", ("cache_type",), "Cache hits."),
    MetricSpec("codeweaver_cache_misses_total", "counter", ("cache_type",), "Cache misses."),
    MetricSpec(
        "codeweaver_cache_hit_rate", "gauge", ("cache_type",), "Hits / (hits + misses) since start."
    ),
    MetricSpec("codeweaver_cache_size_bytes", "gauge", ("cache_type",), "Bytes held by a cache."),
    MetricSpec("codeweaver_cache_entries", "gauge", ("cache_type",), "Entries held by a cache."),
    MetricSpec(
        "codeweaver_vector_operations_total",
        "counter",
        ("operation", "status", "collection"),
        "Vector-store calls.",
    ),
    MetricSpec(
        "codeweaver_vector_operation_duration_seconds",
        "histogram",
        ("operation",),
        "Vector-store call duration.",
    ),
    MetricSpec(
        "codeweaver_vector_collection_size",
        "gauge",
        ("collection",),
        "Points in a project's collection.",
    ),
    MetricSpec(
        "codeweaver_embedding_requests_total", "counter", ("provider", "status"), "Embedding calls."
    ),
    MetricSpec(
        "codeweaver_embedding_duration_seconds",
        "histogram",
        ("provider",),
        "Embedding call duration.",
    ),
    MetricSpec("codeweaver_index_files_total", "counter", ("project",), "Files (re-)indexed."),
    MetricSpec("codeweaver_index_chunks_total", "counter", ("project",), "Chunks stored."),
    MetricSpec(
        "codeweaver_index_errors_total",
        "counter",
        ("project",),
        "Files that failed to index, and failed runs.",
    ),
    MetricSpec(
        "codeweaver_index_last_success_timestamp_seconds",
        "gauge",
        ("project",),
        "Unix time of a project's last complete index run.",
    ),
    MetricSpec(
        "codeweaver_memory_usage_bytes",
        "gauge",
        ("component",),
        "Memory by component (process RSS, caches).",
    ),
    MetricSpec(
        "codeweaver_cpu_usage_percent",
        "gauge",
        ("component",),
        "CPU use since the previous scrape (100 = one core).",
    ),
    MetricSpec("codeweaver_active_connections", "gauge", (), "HTTP requests in flight."),
    MetricSpec(
        "codeweaver_connection_pool_in_use",
        "gauge",
        (),
        "Vector-store calls in flight (each holds a pooled connection in server mode).",
    ),
    MetricSpec(
        "codeweaver_errors_total",
        "counter",
        ("error_type", "component"),
        "Errors by exception type and component.",
    ),
    MetricSpec(
        "codeweaver_health_check",
        "gauge",
        ("component",),
        "Health: 1 healthy, 0.5 degraded, 0 unhealthy.",
    ),
    MetricSpec("codeweaver_service_info", "gauge", ("version",), "Always 1; the running version."),
)
_SPEC = {m.name: m for m in METRICS}

CacheStats = Mapping[str, Mapping[str, int]]


def multiprocess_dir() -> str | None:
    """The shared directory of multiprocess mode, when it is switched on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


@dataclass(slots=True)
class Sources:
    """Scrape-time readers; the server sets them once its engine exists."""

    cache_stats: Callable[[], CacheStats | None] | None = None
    projects: Callable[[], Iterable[Mapping[str, Any]] | None] | None = None
    health: Callable[[], Mapping[str, str] | None] | None = None
    extra_memory: dict[str, Callable[[], int]] = field(default_factory=dict)


def _spec_args(name: str) -> tuple[str, str, tuple[str, ...]]:
    spec = _SPEC[name]
    base = name.removesuffix("_total") if spec.kind == "counter" else name
    return base, spec.help, spec.labels


def _gauge(name: str, registry: CollectorRegistry, mode: str) -> Gauge:
    base, doc, labels = _spec_args(name)
    return Gauge(base, doc, labels, registry=registry, multiprocess_mode=mode)  # type: ignore[arg-type]


def _counter(name: str, registry: CollectorRegistry) -> Counter:
    base, doc, labels = _spec_args(name)
    return Counter(base, doc, labels, registry=registry)


def _histogram(name: str, registry: CollectorRegistry, buckets: tuple[float, ...]) -> Histogram:
    base, doc, labels = _spec_args(name)
    return Histogram(base, doc, labels, registry=registry, buckets=buckets)


class Metrics:
    """The instruments, registered on ``registry``, and the scrape-time collector."""

    def __init__(self, registry: CollectorRegistry, version: str = "0") -> None:
        self.registry = registry
        self.sources = Sources()
        self.requests = _counter("codeweaver_requests_total", registry)
        self.request_duration = _histogram(
            "codeweaver_request_duration_seconds", registry, LATENCY_BUCKETS
        )
        self.search_latency = _histogram(
            "codeweaver_search_latency_seconds", registry, LATENCY_BUCKETS
        )
        self.search_results = _histogram("codeweaver_search_results_count", registry, COUNT_BUCKETS)
        for query_type in QUERY_TYPES:  # start at 0, so rate() sees the first searches
            self.search_latency.labels(query_type)
        self.vector_ops = _counter("codeweaver_vector_operations_total", registry)
        self.vector_duration = _histogram(
            "codeweaver_vector_operation_duration_seconds", registry, FAST_BUCKETS
        )
        self.embedding_requests = _counter("codeweaver_embedding_requests_total", registry)
        self.embedding_duration = _histogram(
            "codeweaver_embedding_duration_seconds", registry, EMBED_BUCKETS
        )
        self.index_files = _counter("codeweaver_index_files_total", registry)
        self.index_chunks = _counter("codeweaver_index_chunks_total", registry)
        self.index_errors = _counter("codeweaver_index_errors_total", registry)
        self.active_connections = _gauge("codeweaver_active_connections", registry, "livesum")
        self.pool_in_use = _gauge("codeweaver_connection_pool_in_use", registry, "livesum")
        self.errors = _counter("codeweaver_errors_total", registry)
        self.service_info = _gauge("codeweaver_service_info", registry, "max")
        self.service_info.labels(version).set(1)
        self.collector = ScrapeCollector(self.sources)
        registry.register(self.collector)

    # ---------------------------------------------------------------- reporting
    def observe_request(
        self, method: str, endpoint: str, status: int, tenant_id: str, seconds: float
    ) -> None:
        self.requests.labels(method, endpoint, str(status), tenant_id).inc()
        self.request_duration.labels(method, endpoint).observe(seconds)

    def observe_search(self, query_type: str, seconds: float, results: int) -> None:
        self.search_latency.labels(query_type).observe(seconds)
        self.search_results.observe(results)

    def observe_vector_op(self, operation: str, collection: str, seconds: float, ok: bool) -> None:
        self.vector_ops.labels(operation, "ok" if ok else "error", collection).inc()
        self.vector_duration.labels(operation).observe(seconds)

    def observe_embedding(self, provider: str, seconds: float, ok: bool) -> None:
        self.embedding_requests.labels(provider, "ok" if ok else "error").inc()
        self.embedding_duration.labels(provider).observe(seconds)

    def observe_index(self, project: str, files: int, chunks: int, errors: int) -> None:
        self.index_files.labels(project).inc(files)
        self.index_chunks.labels(project).inc(chunks)
        self.index_errors.labels(project).inc(errors)

    def count_error(self, error_type: str, component: str) -> None:
        self.errors.labels(error_type, component).inc()

    def process_exiting(self) -> None:
        """In multiprocess mode, drop this worker from the live gauges."""
        if multiprocess_dir() is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    # --------------------------------------------------------------- exposition
    def exposition_registry(self) -> CollectorRegistry:
        """The registry to render: this one, or all workers' in multiprocess mode."""
        if multiprocess_dir() is None:
            return self.registry
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        merged.register(self.collector)
        return merged


class ScrapeCollector(Collector):
    """Series computed when Prometheus scrapes; each source may be absent or fail."""

    def __init__(self, sources: Sources) -> None:
        self._sources = sources
        self._cpu_last: tuple[float, float] | None = None

    def describe(self) -> list[Metric]:  # no samples at registration time
        return []

    def collect(self) -> Iterator[Metric]:
        stats = _safe(self._sources.cache_stats) or {}
        yield from _cache_families(stats)
        yield self._memory(stats)
        yield self._cpu()
        yield from _project_families(list(_safe(self._sources.projects) or ()))
        health = GaugeMetricFamily(*_family("codeweaver_health_check"))
        for component, status in (_safe(self._sources.health) or {}).items():
            health.add_metric([component], HEALTH_VALUES.get(status, 0.0))
        yield health

    def _memory(self, stats: CacheStats) -> Metric:
        fam = GaugeMetricFamily(*_family("codeweaver_memory_usage_bytes"))
        rss = rss_bytes()
        if rss is not None:
            fam.add_metric(["process"], rss)
        if stats:
            fam.add_metric(["cache"], sum(int(s.get("size_bytes", 0)) for s in stats.values()))
        for component, read in self._sources.extra_memory.items():
            value = _safe(read)
            if value is not None:
                fam.add_metric([component], value)
        return fam

    def _cpu(self) -> Metric:
        fam = GaugeMetricFamily(*_family("codeweaver_cpu_usage_percent"))
        times = os.times()
        now = (time.monotonic(), times.user + times.system)
        last, self._cpu_last = self._cpu_last, now
        if last is not None and now[0] > last[0]:
            fam.add_metric(["process"], round(100.0 * (now[1] - last[1]) / (now[0] - last[0]), 3))
        return fam


def _family(name: str) -> tuple[str, str, None, list[str]]:
    base, doc, labels = _spec_args(name)
    return base, doc, None, list(labels)


def _cache_families(stats: CacheStats) -> Iterator[Metric]:
    hits = CounterMetricFamily(*_family("codeweaver_cache_hits_total"))
    misses = CounterMetricFamily(*_family("codeweaver_cache_misses_total"))
    rate = GaugeMetricFamily(*_family("codeweaver_cache_hit_rate"))
    size = GaugeMetricFamily(*_family("codeweaver_cache_size_bytes"))
    entries = GaugeMetricFamily(*_family("codeweaver_cache_entries"))
    for cache_type, s in sorted(stats.items()):
        h, m = int(s.get("hits", 0)), int(s.get("misses", 0))
        hits.add_metric([cache_type], h)
        misses.add_metric([cache_type], m)
        if h + m:
            rate.add_metric([cache_type], h / (h + m))
        size.add_metric([cache_type], int(s.get("size_bytes", 0)))
        entries.add_metric([cache_type], int(s.get("entries", 0)))
    yield from (hits, misses, rate, size, entries)


def _project_families(projects: list[Mapping[str, Any]]) -> Iterator[Metric]:
    size = GaugeMetricFamily(*_family("codeweaver_vector_collection_size"))
    fresh = GaugeMetricFamily(*_family("codeweaver_index_last_success_timestamp_seconds"))
    for p in projects:
        size.add_metric([str(p["project"])], float(p.get("points") or 0))
        if p.get("state") == "complete" and p.get("last_run_at"):
            fresh.add_metric([str(p["project"])], float(p["last_run_at"]))
    yield from (size, fresh)


def _safe(read: Callable[[], Any] | None) -> Any:
    if read is None:
        return None
    try:
        return read()
    except Exception:  # a broken source must never break the scrape
        return None


def rss_bytes() -> int | None:
    """Resident set size of this process, in bytes."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak) * 1024 if peak else None
