"""The performance report: latency, search, errors, cache, resources and recommendations.

Values the metrics do not hold are ``None`` in the data and "no data" in the text — a
missing series is never shown as 0.
"""

from __future__ import annotations

from typing import Any

from codeweaver.config import OperationsSettings
from codeweaver.diagnostics.metrics_view import MetricsView

__all__ = ["build_report", "render_markdown", "render_text"]

MIB = 1024**2


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


def build_report(view: MetricsView, limits: OperationsSettings) -> dict[str, Any]:
    sizes = view.cache_size()
    rates = view.cache_hit_rate()
    report: dict[str, Any] = {
        "source": view.source,
        "requests": {
            "p50_ms": _ms(view.request_quantile(0.5)),
            "p95_ms": _ms(view.request_quantile(0.95)),
            "p99_ms": _ms(view.request_quantile(0.99)),
            "avg_ms": _ms(view.request_average()),
            "error_rate": view.error_rate(),
            "error_rate_by_endpoint": view.error_rate_by_endpoint(),
        },
        "search": {
            "p95_ms": _ms(view.search_quantile(0.95)),
            "rate_per_s": view.search_rate(),
            "avg_results": view.average_results(),
        },
        "cache": {
            kind: {"hit_rate": rates.get(kind), "size_bytes": sizes.get(kind)}
            for kind in sorted(set(rates) | set(sizes))
        },
        "memory_bytes": view.memory(),
        "cpu_percent": view.cpu(),
    }
    report["recommendations"] = recommendations(report, limits)
    return report


def recommendations(report: dict[str, Any], limits: OperationsSettings) -> list[str]:
    out: list[str] = []
    req, search = report["requests"], report["search"]
    if req["p95_ms"] is not None and req["p95_ms"] > limits.p95_latency_seconds * 1000:
        out.append(
            f"p95 request latency {req['p95_ms']:.0f} ms is above "
            f"{limits.p95_latency_seconds * 1000:.0f} ms: "
            "see 'codeweaver support kb show slow-search'"
        )
    if search["p95_ms"] is not None and search["p95_ms"] > limits.search_p95_seconds * 1000:
        out.append(
            f"p95 search latency {search['p95_ms']:.0f} ms is above "
            f"{limits.search_p95_seconds * 1000:.0f} ms: check prefetch limits, HNSW settings "
            "and store load"
        )
    if req["error_rate"] is not None and req["error_rate"] > limits.error_rate:
        worst = max(req["error_rate_by_endpoint"].items(), key=lambda kv: kv[1], default=None)
        where = f" (worst: {worst[0]} {worst[1] * 100:.1f} %)" if worst else ""
        out.append(
            f"error rate {req['error_rate'] * 100:.2f} % is above "
            f"{limits.error_rate * 100:.0f} %{where}: run 'codeweaver logs analyze'"
        )
    for kind, c in report["cache"].items():
        if c["hit_rate"] is not None and c["hit_rate"] < limits.cache_hit_rate:
            out.append(
                f"{kind} cache hit rate {c['hit_rate'] * 100:.1f} % is below "
                f"{limits.cache_hit_rate * 100:.0f} %: "
                "see 'codeweaver support kb show cache-hit-rate'"
            )
    for comp, used in report["memory_bytes"].items():
        if used / MIB > limits.memory_mib:
            out.append(
                f"{comp} uses {used / MIB:.0f} MiB (limit {limits.memory_mib} MiB): "
                "see 'codeweaver support kb show high-memory'"
            )
    for comp, pct in report["cpu_percent"].items():
        if pct > limits.cpu_percent:
            out.append(
                f"{comp} CPU at {pct:.0f} % (over {limits.cpu_percent:.0f} %): "
                "add workers or replicas"
            )
    return out


def _fmt(value: Any, unit: str = "", scale: float = 1.0, digits: int = 1) -> str:
    if value is None:
        return "no data"
    return f"{value * scale:.{digits}f}{unit}"


def _rows(report: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    req, search = report["requests"], report["search"]
    sections = [
        (
            "Request latency",
            [
                ("p50", _fmt(req["p50_ms"], " ms")),
                ("p95", _fmt(req["p95_ms"], " ms")),
                ("p99", _fmt(req["p99_ms"], " ms")),
                ("average", _fmt(req["avg_ms"], " ms")),
                ("error rate", _fmt(req["error_rate"], " %", 100, 2)),
            ],
        ),
        (
            "Errors by endpoint",
            [(ep, _fmt(rate, " %", 100, 2)) for ep, rate in req["error_rate_by_endpoint"].items()]
            or [("all endpoints", "no data")],
        ),
        (
            "Search",
            [
                ("p95", _fmt(search["p95_ms"], " ms")),
                ("rate", _fmt(search["rate_per_s"], " /s", 1, 3)),
                ("average results", _fmt(search["avg_results"], "", 1, 2)),
            ],
        ),
        (
            "Cache",
            [
                (
                    kind,
                    f"hit rate {_fmt(c['hit_rate'], ' %', 100)}, size "
                    f"{_fmt(c['size_bytes'], ' MiB', 1 / MIB, 2)}",
                )
                for kind, c in report["cache"].items()
            ]
            or [("caches", "no data")],
        ),
        (
            "Memory",
            [(k, _fmt(v, " MiB", 1 / MIB, 1)) for k, v in report["memory_bytes"].items()]
            or [("components", "no data")],
        ),
        (
            "CPU",
            [(k, _fmt(v, " %")) for k, v in report["cpu_percent"].items()]
            or [("components", "no data")],
        ),
    ]
    return sections


def render_text(report: dict[str, Any]) -> str:
    lines = [f"CodeWeaver performance report ({report['source']})", ""]
    for title, rows in _rows(report):
        lines.append(title)
        width = max(len(k) for k, _ in rows)
        lines += [f"  {k.ljust(width)}  {v}" for k, v in rows]
        lines.append("")
    lines.append("Recommendations")
    lines += [f"  - {r}" for r in report["recommendations"]] or ["  none: all within thresholds"]
    return "\n".join(lines) + "\n"


def render_markdown(report: dict[str, Any]) -> str:
    lines = ["# CodeWeaver performance report", "", f"Source: {report['source']}", ""]
    for title, rows in _rows(report):
        lines += [f"## {title}", "", "| measure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in rows]
        lines.append("")
    lines += ["## Recommendations", ""]
    lines += [f"- {r}" for r in report["recommendations"]] or ["- none: all within thresholds"]
    return "\n".join(lines) + "\n"
