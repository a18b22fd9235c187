"""The shipped Prometheus / Grafana config, checked by the real tools; multiprocess metrics."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from codeweaver.telemetry.metrics import METRICS

ROOT = Path(__file__).resolve().parents[1]
PROM = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "codeweaver-dashboard.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: run tools/install_services.sh"
)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=PROM, capture_output=True, text=True, timeout=120, check=False
    )


@needs_promtool
def test_promtool_checks_config_and_rules():
    r = promtool("check", "config", "prometheus.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    r = promtool("check", "rules", "alerts.yml")
    assert r.returncode == 0, r.stdout + r.stderr


@needs_promtool
def test_promtool_rule_unit_tests_pass():
    tests = sorted(str(p.relative_to(PROM)) for p in (PROM / "tests").glob("*.yml"))
    assert tests
    r = promtool("test", "rules", *tests)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


def rules() -> list[dict]:
    doc = yaml.safe_load((PROM / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def known_series() -> set[str]:
    names = {"up"}
    for spec in METRICS:
        names.add(spec.name)
        if spec.kind == "histogram":
            names.update(f"{spec.name}_{s}" for s in ("bucket", "sum", "count"))
    names.update(r["record"] for r in rules() if "record" in r)
    return names


def referenced(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', '""', expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # matchers
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    return {t for t in re.findall(r"[A-Za-z_:][\w:]*", expr) if t.startswith(("codeweaver", "up"))}


def test_guide_alerts_and_slo_rules_exist():
    names = {r.get("alert") or r.get("record") for r in rules()}
    for name in (
        "CodeWeaverHighErrorRate",
        "CodeWeaverSlowRequests",
        "CodeWeaverSlowSearches",
        "CodeWeaverVectorStoreErrors",
        "CodeWeaverLowCacheHitRate",
        "CodeWeaverHighMemory",
        "CodeWeaverTooManyConnections",
        "codeweaver:availability:ratio_rate30d",
        "codeweaver:error_budget_remaining:ratio30d",
        "codeweaver:search_latency_slo:ratio_rate30d",
    ):
        assert name in names, name


def test_rules_reference_only_existing_series():
    known = known_series()
    for rule in rules():
        unknown = referenced(rule["expr"]) - known
        assert not unknown, (rule.get("alert") or rule.get("record"), unknown)


def test_dashboard_is_valid_and_references_only_existing_series():
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dash["title"] == "CodeWeaver" and dash["panels"]
    known = known_series()
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    titles = " ".join(p["title"].lower() for p in dash["panels"])
    for topic in ("request rate", "errors", "latency", "search", "cache hit rate", "freshness",
                  "memory", "cpu", "error budget"):  # fmt: skip
        assert topic in titles, topic
    for expr in exprs:
        names = referenced(expr)
        assert names, expr
        assert not names - known, (expr, names - known)
    used = set().union(*(referenced(e) for e in exprs))
    recorded = {r["record"]: referenced(r["expr"]) for r in rules() if "record" in r}
    for _ in range(3):  # through recording rules (which may use each other)
        used |= set().union(*(recorded.get(name, set()) for name in used))
    for spec in METRICS:  # every metric is on the dashboard, directly or recorded
        variants = {spec.name, f"{spec.name}_bucket", f"{spec.name}_sum", f"{spec.name}_count"}
        assert used & variants, spec.name


WORKER = """
import sys
from prometheus_client import CollectorRegistry
from codeweaver.telemetry.metrics import Metrics
m = Metrics(CollectorRegistry(), "1.0")
m.observe_request("POST", "/api/v1/search", 200, "none", 0.01 * int(sys.argv[1]))
m.observe_search("identifier", 0.002, 3)
m.count_error("StoreError", "vector_store")
m.active_connections.inc()
if sys.argv[1] == "3":
    m.process_exiting()  # a worker that shut down leaves the live gauges
"""
SCRAPE = """
from prometheus_client import CollectorRegistry, generate_latest
from codeweaver.telemetry.metrics import Metrics
m = Metrics(CollectorRegistry(), "1.0")
print(generate_latest(m.exposition_registry()).decode())
"""


def test_multiprocess_mode_sums_every_worker(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for n in (1, 2, 3):
        subprocess.run([sys.executable, "-c", WORKER, str(n)], env=env, check=True, timeout=60)
    out = subprocess.run(
        [sys.executable, "-c", SCRAPE], env=env, check=True, timeout=60, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(out)
        for s in fam.samples
    }
    req = (("endpoint", "/api/v1/search"), ("method", "POST"), ("status", "200"),
           ("tenant_id", "none"))  # fmt: skip
    assert values[("codeweaver_requests_total", req)] == 3
    lat = (("endpoint", "/api/v1/search"), ("method", "POST"))
    assert values[("codeweaver_request_duration_seconds_count", lat)] == 3
    assert abs(values[("codeweaver_request_duration_seconds_sum", lat)] - 0.06) < 1e-9
    assert values[("codeweaver_search_latency_seconds_count", (("query_type", "identifier"),))] == 3
    err = (("component", "vector_store"), ("error_type", "StoreError"))
    assert values[("codeweaver_errors_total", err)] == 3
    assert values[("codeweaver_service_info", (("version", "1.0"),))] == 1
    assert values[("codeweaver_active_connections", ())] == 2  # livesum of workers 1 and 2


def test_several_uvicorn_workers_report_one_total(tmp_path):
    """Requests spread over two worker processes; every scrape reports all of them."""
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    here = Path(__file__).resolve().parent
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "CODEWEAVER_HOME": str(tmp_path / "home"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(here)]),
    }
    cmd = [sys.executable, "-m", "uvicorn", "multiworker_app:app", "--factory", "--workers", "2",
           "--port", str(port), "--log-level", "warning"]  # fmt: skip
    out = (tmp_path / "uvicorn.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while len({p.name for p in multiproc.glob("counter_*.db")}) < 2:
            assert proc.poll() is None, (tmp_path / "uvicorn.log").read_text()
            assert time.monotonic() < deadline, "two workers never started"
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{base}/health/live", timeout=2)
            time.sleep(0.2)
        sent = 60
        for _ in range(sent):  # a new connection each, so both workers answer some
            with httpx.Client(timeout=5) as c:
                assert c.get(f"{base}/api/v1/projects").json() == {"projects": []}
        for _ in range(6):  # whichever worker answers the scrape reports every request
            with httpx.Client(timeout=5) as c:
                text = c.get(f"{base}/metrics").text
            fam = next(
                f for f in text_string_to_metric_families(text) if f.name == "codeweaver_requests"
            )
            total = sum(
                s.value
                for s in fam.samples
                if s.name == "codeweaver_requests_total"
                and s.labels["endpoint"] == "/api/v1/projects"
            )
            assert total == sent
    finally:
        proc.terminate()
        proc.wait(30)
        out.close()
