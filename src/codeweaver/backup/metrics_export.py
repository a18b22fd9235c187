"""The ``metrics`` backup component: CodeWeaver's key series from a configured Prometheus.

Each series of the shipped dashboard and alerts that an operator looks back at after an
incident (traffic, errors, latency, caches, embedding, the store, memory, CPU, index
freshness) is exported as a raw range query over the last ``backup.metrics_days`` days:
the PromQL expression, start, end, step and the matrix Prometheus answered, in one JSON
file of the backup. Restores never write it back into Prometheus.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codeweaver.adapters.prometheus_api import PrometheusClient
from codeweaver.backup.redact import redact_url
from codeweaver.config import BackupSettings
from codeweaver.errors import CodeWeaverError, ConfigError, InputError, UnavailableError

__all__ = [
    "EXPORT_FILE",
    "EXPORT_FORMAT",
    "KEY_SERIES",
    "MAX_POINTS",
    "KeySeries",
    "export_metrics",
    "prometheus_client",
    "range_step",
    "rate_window",
]

EXPORT_FILE = "metrics/prometheus-export.json"
EXPORT_FORMAT = "codeweaver-metrics-export"
EXPORT_VERSION = 1
MAX_POINTS = 11_000  # Prometheus refuses range queries with more points per series
MIN_RATE_WINDOW = 300
QUERY_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class KeySeries:
    name: str
    description: str
    expr: str  # ``{w}``: the rate window, at least 5 m and at least one step


KEY_SERIES: tuple[KeySeries, ...] = (
    KeySeries(
        "request_rate",
        "HTTP requests per second by endpoint",
        "sum by (job, endpoint) (rate(codeweaver_requests_total[{w}]))",
    ),
    KeySeries(
        "request_error_ratio",
        "share of requests answered with a 5xx",
        '(sum by (job) (rate(codeweaver_requests_total{{status=~"5.."}}[{w}]))'
        " or sum by (job) (rate(codeweaver_requests_total[{w}])) * 0)"
        " / sum by (job) (rate(codeweaver_requests_total[{w}]))",
    ),
    KeySeries(
        "errors_by_component",
        "errors per second by component and type",
        "sum by (job, component, error_type) (rate(codeweaver_errors_total[{w}]))",
    ),
    KeySeries(
        "request_latency_p95",
        "95th percentile of the request latency, seconds",
        "histogram_quantile(0.95, sum by (job, le) "
        "(rate(codeweaver_request_duration_seconds_bucket[{w}])))",
    ),
    KeySeries(
        "search_rate",
        "searches per second by query type",
        "sum by (job, query_type) (rate(codeweaver_search_latency_seconds_count[{w}]))",
    ),
    KeySeries(
        "search_latency_p95",
        "95th percentile of the search latency, seconds",
        "histogram_quantile(0.95, sum by (job, le) "
        "(rate(codeweaver_search_latency_seconds_bucket[{w}])))",
    ),
    KeySeries(
        "cache_hit_rate",
        "cache hits / lookups by cache",
        "sum by (job, cache_type) (rate(codeweaver_cache_hits_total[{w}]))"
        " / (sum by (job, cache_type) (rate(codeweaver_cache_hits_total[{w}]))"
        " + sum by (job, cache_type) (rate(codeweaver_cache_misses_total[{w}])))",
    ),
    KeySeries(
        "embedding_requests",
        "embedding calls per second by provider and status",
        "sum by (job, provider, status) (rate(codeweaver_embedding_requests_total[{w}]))",
    ),
    KeySeries(
        "embedding_latency_p95",
        "95th percentile of an embedding call, seconds",
        "histogram_quantile(0.95, sum by (job, le, provider) "
        "(rate(codeweaver_embedding_duration_seconds_bucket[{w}])))",
    ),
    KeySeries(
        "vector_operations",
        "vector store operations per second by operation and status",
        "sum by (job, operation, status) (rate(codeweaver_vector_operations_total[{w}]))",
    ),
    KeySeries(
        "collection_size",
        "points per collection",
        "max by (job, collection) (codeweaver_vector_collection_size)",
    ),
    KeySeries(
        "index_age",
        "seconds since each project's last complete index run",
        "time() - max by (job, project) (codeweaver_index_last_success_timestamp_seconds)",
    ),
    KeySeries(
        "memory_bytes",
        "memory by instance and component, bytes",
        "max by (job, instance, component) (codeweaver_memory_usage_bytes)",
    ),
    KeySeries(
        "cpu_percent",
        "CPU by instance and component, percent",
        "max by (job, instance, component) (codeweaver_cpu_usage_percent)",
    ),
    KeySeries(
        "active_connections",
        "HTTP requests in flight by instance",
        "sum by (job, instance) (codeweaver_active_connections)",
    ),
    KeySeries(
        "health",
        "component health by instance (1 healthy, 0 not)",
        "min by (job, instance, component) (codeweaver_health_check)",
    ),
)


def range_step(window_seconds: float, step_seconds: float, max_points: int = MAX_POINTS) -> int:
    """The step, whole seconds, of a range query over ``window_seconds``: the configured
    step, raised until no series holds more than ``max_points`` points."""
    if window_seconds <= 0 or step_seconds <= 0 or max_points < 2:
        raise InputError("a metrics export needs a positive window and step")
    # a range query returns floor(window / step) + 1 points per series
    return max(math.ceil(step_seconds), math.ceil(window_seconds / (max_points - 1)), 1)


def rate_window(step: int) -> str:
    """A rate() window as wide as one step (at least 5 m), so no sample falls between."""
    seconds = max(step, MIN_RATE_WINDOW)
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def _read_token(cfg: BackupSettings) -> str | None:
    if cfg.prometheus_token is not None:
        return cfg.prometheus_token.get_secret_value().strip() or None
    if cfg.prometheus_token_file is None:
        return None
    path = cfg.prometheus_token_file.expanduser()
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            "invalid setting 'backup.prometheus_token_file' "
            f"(CODEWEAVER_BACKUP__PROMETHEUS_TOKEN_FILE): cannot read {path}: "
            f"{getattr(exc, 'strerror', None) or exc}"
        ) from exc


def prometheus_client(cfg: BackupSettings) -> PrometheusClient:
    """The client for ``backup.prometheus_url`` (which must be set)."""
    if cfg.prometheus_url is None:
        raise InputError(
            "the 'metrics' backup component needs a Prometheus: set backup.prometheus_url "
            "(CODEWEAVER_BACKUP__PROMETHEUS_URL)"
        )
    ca_file = cfg.prometheus_ca_file.expanduser() if cfg.prometheus_ca_file else None
    return PrometheusClient(
        cfg.prometheus_url, token=_read_token(cfg), ca_file=ca_file, timeout=QUERY_TIMEOUT
    )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def export_metrics(cfg: BackupSettings, out: Path, *, now: float | None = None) -> dict[str, Any]:
    """Query every key series over the last ``cfg.metrics_days`` days and write them to
    ``out``; returns the export. Any failed query fails the export (one-line error)."""
    client = prometheus_client(cfg)
    end = round(time.time() if now is None else now, 3)
    window = cfg.metrics_days * 86400
    start = round(end - window, 3)
    step = range_step(window, cfg.metrics_step_seconds)
    w = rate_window(step)
    queries: list[dict[str, Any]] = []
    for key in KEY_SERIES:
        expr = key.expr.format(w=w)
        try:
            matrix = client.query_range(expr, start, end, step)
        except CodeWeaverError as exc:
            failed = UnavailableError if isinstance(exc, UnavailableError) else CodeWeaverError
            raise failed(f"metrics export failed on {key.name}: {exc}") from exc
        queries.append(
            {
                "name": key.name,
                "description": key.description,
                "expr": expr,
                "start": start,
                "end": end,
                "step": step,
                "result_type": "matrix",
                "result": matrix,
            }
        )
    export: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "prometheus_url": redact_url(client.base_url),
        "exported_at": _iso(end),
        "range": {
            "start": start,
            "end": end,
            "start_iso": _iso(start),
            "end_iso": _iso(end),
            "days": cfg.metrics_days,
            "step_seconds": step,
            "rate_window": w,
        },
        "expressions": [{"name": q["name"], "expr": q["expr"]} for q in queries],
        "queries": queries,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(export, indent=1), encoding="utf-8")
    return export
