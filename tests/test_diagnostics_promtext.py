"""Prometheus text parsing and histogram quantiles (pure logic)."""

from __future__ import annotations

import math

import pytest

from codeweaver.config import OperationsSettings
from codeweaver.diagnostics.metrics_view import ScrapeView
from codeweaver.diagnostics.perf_report import build_report, render_text
from codeweaver.diagnostics.promtext import histogram_quantile, parse

TEXT = r"""# HELP codeweaver_requests_total Requests.
# TYPE codeweaver_requests_total counter
codeweaver_requests_total{method="GET",endpoint="/a",status="200",tenant_id="t \"x\""} 9
codeweaver_requests_total{endpoint="/a",status="503"} 1 1700000000000
h_bucket{le="0.1"} 5
h_bucket{le="0.5"} 8
h_bucket{le="+Inf"} 10
odd_value NaN
"""


def test_parse_labels_values_and_timestamps():
    s = parse(TEXT)
    got = s.get("codeweaver_requests_total", status="200")
    assert got[0].label("tenant_id") == 't "x"' and got[0].value == 9
    assert s.total("codeweaver_requests_total") == 10
    assert math.isnan(s.get("odd_value")[0].value)
    assert s.total("missing") is None


def test_histogram_quantile_matches_promql_interpolation():
    b = parse(TEXT).buckets("h")
    assert histogram_quantile(0.5, b) == pytest.approx(0.1)
    assert histogram_quantile(0.25, b) == pytest.approx(0.05)
    assert histogram_quantile(0.65, b) == pytest.approx(0.1 + 0.4 * (1.5 / 3))
    assert histogram_quantile(0.95, b) == pytest.approx(0.5)  # in +Inf: last finite bound
    assert histogram_quantile(0.5, {}) is None
    assert histogram_quantile(0.5, {1.0: 0, math.inf: 0}) is None


def test_empty_scrape_reports_missing_not_zero():
    view = ScrapeView(parse(""), "empty")
    rep = build_report(view, OperationsSettings())  # type: ignore[call-arg]
    assert rep["requests"]["p95_ms"] is None and rep["requests"]["error_rate"] is None
    assert rep["recommendations"] == []
    assert "no data" in render_text(rep) and " 0.0 ms" not in render_text(rep)


def test_cache_hit_rate_from_counters_else_gauge():
    text = (
        'codeweaver_cache_hits_total{cache_type="query"} 0\n'
        'codeweaver_cache_misses_total{cache_type="query"} 0\n'
        'codeweaver_cache_hit_rate{cache_type="query"} 0\n'
        'codeweaver_cache_hits_total{cache_type="embedding"} 9\n'
        'codeweaver_cache_misses_total{cache_type="embedding"} 1\n'
        'codeweaver_cache_hit_rate{cache_type="l2"} 0.5\n'
    )
    rates = ScrapeView(parse(text), "x").cache_hit_rate()
    assert rates == {"embedding": pytest.approx(0.9), "l2": 0.5}  # query: no lookups yet
