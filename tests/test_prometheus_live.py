"""A real Prometheus scraping live ``codeweaver serve`` processes, with the shipped rules.

Two servers share the scrape job: a healthy one (embedded store, real model) and one whose
Qdrant server is unreachable, so every search there fails in the vector store. The rules
are the shipped ``alerts.yml`` with every ``for`` shortened to one second.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from net_helpers import free_port
from sample_code import UPLOAD_PY

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus missing: run tools/install_services.sh"
)

PY = UPLOAD_PY
GOOD_SEARCHES = 6
BAD_PROJECT_SEARCHES = 3
STORE_FAILURES = 8


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (httpx.TransportError, KeyError, IndexError, ValueError) as exc:
            last = exc
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def start_server(tmp: Path, name: str, extra_env: dict[str, str]):
    port = free_port()
    folder = tmp / name
    folder.mkdir()
    env = {
        **os.environ,
        "CODEWEAVER_HOME": str(folder / "home"),
        "CODEWEAVER_LOG_LEVEL": "info",
        "CODEWEAVER_OBSERVABILITY__LOG_FILE": str(folder / "server.jsonl"),
        "PYTHONUNBUFFERED": "1",
        **extra_env,
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    out = (folder / "stdout.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    return proc, f"http://127.0.0.1:{port}", folder, out


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("observed")
    dead_qdrant = f"http://127.0.0.1:{free_port()}"
    good = start_server(tmp, "good", {})
    bad = start_server(
        tmp, "bad", {"CODEWEAVER_QDRANT__MODE": "server", "CODEWEAVER_QDRANT__URL": dead_qdrant}
    )
    prom_port = free_port()
    rules = (ROOT / "deploy/prometheus/alerts.yml").read_text(encoding="utf-8")
    (tmp / "alerts.yml").write_text(re.sub(r"for: \d+[smh]", "for: 1s", rules))
    targets = json.dumps([good[1].removeprefix("http://"), bad[1].removeprefix("http://")])
    (tmp / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [alerts.yml]\n"
        "scrape_configs:\n"
        f"  - job_name: codeweaver\n    static_configs: [{{targets: {targets}}}]\n"
    )
    prom_log = (tmp / "prometheus.log").open("wb")
    prom = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        cwd=tmp,
        stdout=prom_log,
        stderr=subprocess.STDOUT,
    )
    prom_url = f"http://127.0.0.1:{prom_port}"
    try:
        for proc, base, folder, _ in (good, bad):

            def live(proc=proc, base=base, folder=folder):
                assert proc.poll() is None, (folder / "stdout.log").read_text()
                return httpx.get(f"{base}/health/live", timeout=2).status_code == 200

            wait_until(live, 90, f"{base} to answer")
        wait_until(
            lambda: httpx.get(f"{good[1]}/health/ready", timeout=5).status_code == 200,
            90,
            "the model to load",
        )
        wait_until(lambda: httpx.get(f"{prom_url}/-/ready", timeout=2).status_code == 200, 60,
                   "prometheus")  # fmt: skip
        # both targets scraped before any traffic, so every counter has a baseline sample
        wait_until(
            lambda: sum(float(r["value"][1]) for r in query(prom_url, "up")) == 2,
            60,
            "the first scrapes",
        )
        yield {"good": good, "bad": bad, "prom": prom_url, "tmp": tmp}
    finally:
        stop(prom)
        for proc, *_ in (good, bad):
            stop(proc)
        prom_log.close()
        good[3].close()
        bad[3].close()


def query(prom: str, expr: str) -> list[dict]:
    r = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10)
    body = r.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def scalar(prom: str, expr: str) -> float | None:
    result = query(prom, expr)
    return float(result[0]["value"][1]) if result else None


def eventually(prom: str, expr: str, expected: float, timeout: float = 30) -> None:
    """``expr`` reaches ``expected`` (a scrape may lag, or time out on a busy machine)."""
    wait_until(lambda: scalar(prom, expr) == expected, timeout, f"{expr} == {expected}")


def index_and_wait(client: httpx.Client, path: Path) -> dict:
    job_id = client.post("/api/v1/index", json={"path": str(path), "project": "svc"}).json()[
        "job_id"
    ]
    return wait_until(
        lambda: (
            (j := client.get(f"/api/v1/jobs/{job_id}").json())["state"] in ("succeeded", "failed")
            and j
        ),
        60,
        "the index job",
    )


def test_prometheus_scrapes_counts_quantiles_and_fires_alerts(stack):
    prom, tmp = stack["prom"], stack["tmp"]
    (_, good, good_dir, _), (_, bad, bad_dir, _) = stack["good"], stack["bad"]
    src = tmp / "svc"
    src.mkdir()
    (src / "upload.py").write_text(PY)
    good_host = good.removeprefix("http://")
    bad_host = bad.removeprefix("http://")

    with httpx.Client(base_url=good, timeout=60) as c:
        assert index_and_wait(c, src)["state"] == "succeeded"
        for i in range(GOOD_SEARCHES):
            q = "upload_with_retry" if i % 2 else "retry a failed upload"
            r = c.post("/api/v1/search", json={"query": q}, headers={"X-Request-ID": f"good-{i}"})
            assert r.status_code == 200, r.text
        for i in range(BAD_PROJECT_SEARCHES):  # failing on purpose: unknown project
            r = c.post("/api/v1/search", json={"query": "parse config", "project": f"nope{i}"})
            assert r.status_code == 404
    with httpx.Client(base_url=bad, timeout=60) as c:
        assert index_and_wait(c, src)["state"] == "failed"  # the store is unreachable
        for _ in range(STORE_FAILURES):  # failing on purpose: the vector store is down
            r = c.post("/api/v1/search", json={"query": "parse config", "project": "svc"})
            assert r.status_code == 503, r.text
            time.sleep(0.4)  # spread over several scrapes, so rate() sees them

    searches = f'codeweaver_requests_total{{instance="{good_host}",endpoint="/api/v1/search"'
    ok = searches + ',status="200"}'
    wait_until(lambda: scalar(prom, f"sum({ok})") == GOOD_SEARCHES, 30, "the search counts")
    nf = searches + ',status="404"}'
    eventually(prom, f"sum({nf})", BAD_PROJECT_SEARCHES)
    bad_sel = f'instance="{bad_host}",endpoint="/api/v1/search",status="503"'
    wait_until(
        lambda: scalar(prom, f"sum(codeweaver_requests_total{{{bad_sel}}})") == STORE_FAILURES,
        30,
        "the failed searches",
    )
    lat = f'codeweaver_search_latency_seconds_count{{instance="{good_host}"}}'
    eventually(prom, f"sum({lat})", GOOD_SEARCHES)
    by_type = {
        r["metric"]["query_type"]: float(r["value"][1])
        for r in query(prom, f"sum by (query_type) ({lat})")
    }
    assert by_type == {"identifier": GOOD_SEARCHES / 2, "natural_language": GOOD_SEARCHES / 2}
    search_errors = f'codeweaver_errors_total{{component="search",instance="{good_host}"}}'
    eventually(prom, f"sum({search_errors})", BAD_PROJECT_SEARCHES)
    store_errors = (
        f'codeweaver_vector_operations_total{{instance="{bad_host}",operation="search",'
        'status="error",collection="svc"}'
    )
    eventually(prom, f"sum({store_errors})", STORE_FAILURES)
    size = f'codeweaver_vector_collection_size{{instance="{good_host}",collection="svc"}}'
    assert wait_until(lambda: scalar(prom, size), 30, "the collection size") > 0
    fresh = f'codeweaver_index_last_success_timestamp_seconds{{instance="{good_host}"}}'
    last_success = wait_until(lambda: scalar(prom, fresh), 30, "the index freshness")
    assert 0 <= time.time() - last_success < 300
    eventually(prom, f'codeweaver_index_files_total{{instance="{good_host}"}}', 1)
    eventually(prom, f'codeweaver_health_check{{instance="{good_host}",component="embedder"}}', 1)
    health_bad = f'codeweaver_health_check{{instance="{bad_host}",component="vector_store"}}'
    wait_until(lambda: scalar(prom, health_bad) == 0, 30, "the store's health to drop")
    assert (
        scalar(prom, f'codeweaver_memory_usage_bytes{{instance="{good_host}",component="process"}}')
        > 5e7
    )
    assert query(prom, 'codeweaver_service_info{version!=""}')

    # the search latency histogram gives a sane 95th percentile (real model, tiny index)
    p95 = scalar(
        prom,
        "histogram_quantile(0.95, sum by (le) "
        f'(rate(codeweaver_search_latency_seconds_bucket{{instance="{good_host}"}}[5m])))',
    )
    assert p95 is not None and 0 < p95 < 1.0, p95
    p50 = scalar(
        prom,
        "histogram_quantile(0.5, sum by (le) "
        f'(increase(codeweaver_search_latency_seconds_bucket{{instance="{good_host}"}}[5m])))',
    )
    assert 0 < p50 <= p95

    def firing() -> set[str]:
        alerts = httpx.get(f"{prom}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
        return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}

    fired = wait_until(
        lambda: {"CodeWeaverVectorStoreErrors", "CodeWeaverHighErrorRate"} <= firing() and firing(),
        60,
        "the alerts to fire",
    )
    assert "CodeWeaverMemoryHigh" not in fired and "CodeWeaverTooManyConnections" not in fired
    ratio = scalar(prom, 'codeweaver:request_error_ratio:rate5m{job="codeweaver"}')
    assert ratio is not None and ratio > 0.05

    # JSON logs: every line parses; the client's request id is on its access and search lines
    lines = [json.loads(x) for x in (good_dir / "server.jsonl").read_text().splitlines()]
    mine = [x for x in lines if x.get("request_id") == "good-1"]
    assert {(x["logger"], x["message"]) for x in mine} >= {
        ("codeweaver.access", "request"),
        ("codeweaver.search", "search"),
    }
    access = next(x for x in mine if x["logger"] == "codeweaver.access")
    assert access["route"] == "/api/v1/search" and access["status"] == 200
    assert access["tenant_id"] == "default" and access["user"] == "local"  # auth mode none
    search = next(x for x in mine if x["logger"] == "codeweaver.search")
    assert search["query_type"] == "identifier" and search["project"] == "svc"
    assert search["result_count"] >= 1 and search["duration_ms"] > 0
    bad_lines = [json.loads(x) for x in (bad_dir / "server.jsonl").read_text().splitlines()]
    store = [x for x in bad_lines if x.get("component") == "vector_store"]
    assert store and all(x["level"] == "ERROR" and x["error_type"] for x in store)
    failed = [x for x in bad_lines if x["logger"] == "codeweaver.search" and x["level"] == "ERROR"]
    assert len(failed) == STORE_FAILURES and failed[0]["error_type"] == "StoreError"
