"""``codeweaver report performance`` against a real Prometheus (Debian's) scraping a server,
and against a server's ``/metrics`` alone. The scraped server adds one known batch of
traffic per scrape, so every figure of the report is known in advance."""

from __future__ import annotations

import json
import shutil
import sys
import time

import httpx
import pytest

from ops_helpers import (
    codeweaver,
    free_port,
    process,
    prometheus_scraping,
    stub_server,
    wait_for_value,
    wait_http,
)

MIB = 1024 * 1024
pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs prometheus")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prom")
    query = "count_over_time(codeweaver_requests_total{endpoint='/health'}[1m])"
    with stub_server(tmp) as target, prometheus_scraping(tmp, target, query, 5) as base:
        yield base


def report(*args: str) -> dict:
    run = codeweaver("report", "performance", *args, "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def check_known_figures(rep: dict) -> None:
    req, search = rep["requests"], rep["search"]
    assert req["p50_ms"] == pytest.approx(15.0, rel=1e-3)
    assert req["p95_ms"] == pytest.approx(100.0, rel=1e-3)
    assert req["p99_ms"] == pytest.approx(500.0, rel=1e-3)
    assert req["avg_ms"] == pytest.approx(25.0, rel=1e-3)
    assert req["error_rate"] == pytest.approx(2 / 150, rel=1e-3)
    by_ep = req["error_rate_by_endpoint"]
    assert by_ep["/api/v1/search"] == pytest.approx(0.02, rel=1e-3)
    assert by_ep["/health"] == 0.0
    assert search["p95_ms"] == pytest.approx(500.0, rel=1e-3)
    assert search["avg_results"] == pytest.approx(10.0, rel=1e-3)
    assert rep["cache"]["results"]["hit_rate"] == pytest.approx(0.8, rel=1e-3)
    assert rep["cache"]["embedding"]["hit_rate"] == pytest.approx(0.3, rel=1e-3)
    assert rep["cache"]["embedding"]["size_bytes"] == 8 * MIB
    assert rep["memory_bytes"] == {"api": 500 * MIB, "embedder": 300 * MIB}
    assert rep["cpu_percent"] == {"api": 35.0}
    recs = " ".join(rep["recommendations"])
    assert "embedding cache hit rate 30.0 %" in recs
    assert "error rate 1.33 %" in recs and "/api/v1/search" in recs
    assert "results cache" not in recs


def test_report_from_prometheus(prometheus):
    rep = report("--prometheus-url", prometheus, "--range", "1m")
    check_known_figures(rep)
    # 20 searches per 1 s scrape; rate() spreads the few seconds scraped so far over 1m
    assert 0 < rep["search"]["rate_per_s"] <= 30
    assert rep["source"].startswith("Prometheus")


def test_doctor_reads_prometheus(prometheus, tmp_path):
    with stub_server(tmp_path) as base:
        run = codeweaver("doctor", "--url", base, "--prometheus-url", prometheus, "--json")
    got = {c["name"]: c for c in json.loads(run.stdout)["checks"]}
    assert got["request latency"]["status"] == "PASS"
    assert "p95 100.0 ms" in got["request latency"]["detail"]
    assert got["error rate"]["status"] == "WARN" and run.returncode == 3  # the guide warns


def test_report_from_metrics_alone(tmp_path):
    with stub_server(tmp_path) as base:
        rep = report("--url", base)
    check_known_figures(rep)
    assert rep["search"]["rate_per_s"] is not None and rep["search"]["rate_per_s"] > 0


def test_report_missing_data_is_missing_not_zero(tmp_path):
    with stub_server(tmp_path, "--bare") as base:
        rep = report("--url", base)
        text = codeweaver("report", "performance", "--url", base)
        md_path = tmp_path / "perf.md"
        md = codeweaver(
            "report", "performance", "--url", base, "--format", "markdown", "-o", str(md_path)
        )
    assert rep["requests"]["p95_ms"] == pytest.approx(100.0, rel=1e-3)
    assert rep["search"] == {"p95_ms": None, "rate_per_s": None, "avg_results": None}
    assert rep["cache"] == {} and rep["memory_bytes"] == {} and rep["cpu_percent"] == {}
    assert "no data" in text.stdout and text.returncode == 0
    assert md.returncode == 0 and "| p95 | 100.0 ms |" in md_path.read_text()


def test_report_usage_errors(tmp_path):
    run = codeweaver("report", "performance")
    assert run.returncode == 2 and "--prometheus-url" in run.stderr
    run = codeweaver(
        "report", "performance", "--prometheus-url", "http://127.0.0.1:9", "--range", "soon"
    )
    assert run.returncode == 2 and "invalid range" in run.stderr
    run = codeweaver("report", "performance", "--url", f"http://127.0.0.1:{free_port()}")
    assert run.returncode == 1 and "cannot reach" in run.stderr


def test_report_live_server_through_prometheus(tmp_path):
    """A live ``codeweaver serve`` scraped by Prometheus, with known searches."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = {"CODEWEAVER_HOME": str(tmp_path / "home")}
    args = [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)]
    root = tmp_path / "svc"
    root.mkdir()
    for i in range(4):
        (root / f"m{i}.py").write_text(f"def upload_{i}(path):\n    return path * {i}\n")
    with process(args, log, env, cwd=tmp_path) as proc, httpx.Client(timeout=30) as c:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health/ready", proc, log)
        if c.get(f"{base}/metrics").status_code == 404:
            pytest.skip("this server build has no /metrics endpoint")
        job = c.post(f"{base}/api/v1/index", json={"path": str(root)}).json()["job_id"]
        while c.get(f"{base}/api/v1/jobs/{job}").json()["state"] not in ("succeeded", "failed"):
            time.sleep(0.05)
        counts = []

        def searches(n: int) -> None:
            for i in range(n):
                r = c.post(f"{base}/api/v1/search", json={"query": f"upload {i}", "limit": 3})
                counts.append(len(r.json()["results"]))

        searches(5)
        query = "sum(codeweaver_search_latency_seconds_count)"
        with prometheus_scraping(tmp_path, base, query, 5) as prom:
            # rates need increases between scrapes: search while Prometheus watches
            searches(20)
            wait_for_value(prom, query, 25)
            from_prom = report("--prometheus-url", prom, "--range", "5m")
            doctor = codeweaver("doctor", "--url", base, "--prometheus-url", prom, "--json")
        direct = report("--url", base)
    for rep in (from_prom, direct):
        assert rep["requests"]["p95_ms"] is not None and rep["requests"]["p95_ms"] > 0
        assert rep["search"]["p95_ms"] is not None
        assert rep["requests"]["error_rate"] == 0.0
    assert direct["search"]["avg_results"] == pytest.approx(sum(counts) / len(counts))
    checks = {ch["name"]: ch["status"] for ch in json.loads(doctor.stdout)["checks"]}
    assert checks["request latency"] == "PASS" and checks["error rate"] == "PASS", doctor.stdout
