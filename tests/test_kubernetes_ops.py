"""``doctor --kubernetes`` and ``logs analyze --kubernetes`` against a loopback process that
speaks the Kubernetes REST API subset they use (``k8s_standin.py``), with cluster objects
built from the official client's models and a kubeconfig pointing at it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from codeweaver.diagnostics.doctor_kubernetes import SELECTOR
from codeweaver.diagnostics.kube_logs import log_file_name
from k8s_helpers import (
    NS,
    healthy,
    kubeconfig,
    pod,
    pod_metrics,
    standin,
)
from net_helpers import free_port
from ops_helpers import codeweaver

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with standin(tmp_path_factory.mktemp("standin")) as s:
        yield s


@pytest.fixture
def kube(api, tmp_path):
    return kubeconfig(tmp_path, api.url)


def doctor(kube: Path, *extra: str) -> tuple[int, dict[str, tuple[str, str]]]:
    run = codeweaver("doctor", "--kubernetes", "--kubeconfig", str(kube), "--json", *extra)
    assert "Traceback" not in run.stderr, run.stderr
    body = json.loads(run.stdout)
    return run.returncode, {c["name"]: (c["status"], c["detail"]) for c in body["checks"]}


def test_a_healthy_deployment_passes(api, kube):
    api.put(healthy())
    code, checks = doctor(kube)
    assert code == 0, checks
    assert checks["k8s namespace"] == ("PASS", "codeweaver (Active)")
    assert checks["k8s pods"] == ("PASS", "2/2 running and ready")
    assert checks["k8s services"] == ("PASS", "codeweaver: 2 ready")
    assert checks["k8s restarts"] == ("PASS", "no restarts, no OOM kills")
    assert checks["k8s memory"] == (
        "PASS",
        "codeweaver-0 1536 MiB, codeweaver-1 2048 MiB (limit 4000 MiB)",
    )
    assert checks["k8s images"] == ("PASS", "codeweaver:0.1.0 (2 pods)")
    # the pods were selected by the label the manifests put on them
    lists = [r for r in api.requests() if r["path"].endswith("/pods")]
    assert lists and all(r["query"]["labelSelector"] == SELECTOR for r in lists)


def test_crash_loop_and_oom_kill_fail(api, kube):
    scenario = healthy()
    scenario["pods"] = [
        pod("codeweaver-0", ready=False, waiting="CrashLoopBackOff", restarts=7),
        pod("codeweaver-1", restarts=2, last_terminated="OOMKilled"),
    ]
    api.put(scenario)
    code, checks = doctor(kube)
    assert code == 1
    assert checks["k8s pods"] == (
        "FAIL",
        "1/2 running and ready (codeweaver-0: codeweaver CrashLoopBackOff)",
    )
    status, detail = checks["k8s restarts"]
    assert status == "FAIL"
    assert "codeweaver-1/codeweaver OOMKilled (2 restarts)" in detail
    assert "codeweaver-0/codeweaver 7 restarts" in detail


def test_restarts_warn_and_memory_over_the_limit_fails(api, kube):
    scenario = healthy()
    scenario["pods"] = [pod("codeweaver-0", restarts=1), pod("codeweaver-1")]
    scenario["metrics"] = [pod_metrics("codeweaver-0", "4200000Ki")]
    api.put(scenario)
    code, checks = doctor(kube)
    assert code == 1
    assert checks["k8s restarts"] == ("WARN", "codeweaver-0/codeweaver 1 restarts")
    assert checks["k8s memory"] == ("FAIL", "codeweaver-0 4102 MiB (limit 4000 MiB)")


def test_metrics_api_absent_warns(api, kube):
    scenario = healthy()
    scenario["metrics"] = None
    api.put(scenario)
    code, checks = doctor(kube)
    assert code == 3, checks
    status, detail = checks["k8s memory"]
    assert status == "WARN" and detail.startswith("metrics API not available")


def test_images_pull_errors_fail_and_floating_tags_warn(api, kube):
    scenario = healthy()
    scenario["pods"] = [pod("codeweaver-0", image="codeweaver:latest"), pod("codeweaver-1")]
    api.put(scenario)
    code, checks = doctor(kube)
    assert code == 3
    assert checks["k8s images"][0] == "WARN" and "codeweaver:latest" in checks["k8s images"][1]
    scenario["pods"] = [
        pod("codeweaver-0", ready=False, waiting="ImagePullBackOff", image="codeweaver:9.9"),
    ]
    api.put(scenario)
    _, checks = doctor(kube)
    assert checks["k8s images"] == (
        "FAIL",
        "codeweaver-0/codeweaver ImagePullBackOff (codeweaver:9.9)",
    )


def test_services_without_ready_endpoints_fail(api, kube):
    scenario = healthy()
    scenario["endpoints"][0]["subsets"][0]["notReadyAddresses"] = scenario["endpoints"][0][
        "subsets"
    ][0].pop("addresses")
    api.put(scenario)
    _, checks = doctor(kube)
    assert checks["k8s services"] == ("FAIL", "codeweaver: 0 ready, 2 not ready")
    scenario["endpoints"] = []
    api.put(scenario)
    _, checks = doctor(kube)
    assert checks["k8s services"] == ("FAIL", "codeweaver: no endpoints")


def test_missing_namespace_fails_and_skips_the_rest(api, kube):
    api.put(healthy())
    code, checks = doctor(kube, "--namespace", "elsewhere")
    assert code == 1
    assert checks["k8s namespace"] == ("FAIL", "namespace elsewhere not found")
    assert {s for n, (s, _) in checks.items() if n != "k8s namespace"} == {"SKIP"}


def test_forbidden_reads(api, kube):
    scenario = healthy()
    scenario["forbidden"] = ["namespaces", "pods"]
    api.put(scenario)
    code, checks = doctor(kube)
    assert code == 1
    status, detail = checks["k8s namespace"]
    assert status == "WARN" and "forbidden" in detail
    status, detail = checks["k8s pods"]
    assert status == "FAIL"
    assert detail.startswith("pods in namespace codeweaver: forbidden: pods is forbidden: User")
    assert checks["k8s services"][0] == "PASS"


def test_a_wrong_token_is_refused(api, tmp_path):
    api.put(healthy())
    code, checks = doctor(kubeconfig(tmp_path, api.url, token="wrong"))
    assert code == 1
    assert checks["k8s pods"] == (
        "FAIL",
        "pods in namespace codeweaver: unauthorized: Unauthorized",
    )


def test_unreachable_api_server_is_one_line(tmp_path):
    server = f"http://127.0.0.1:{free_port()}"
    run = codeweaver("doctor", "--kubernetes", "--kubeconfig", str(kubeconfig(tmp_path, server)))
    assert run.returncode == 1  # UnavailableError in cli/errors.py EXIT_CODES
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot reach the Kubernetes API at {server}" in lines[0], lines


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--namespace", "../kube-system"], "invalid namespace '../kube-system'"),
        (["--namespace", "A" * 64], "invalid namespace"),
        (["--kubeconfig", "/nonexistent/kubeconfig"], "kubeconfig /nonexistent/kubeconfig"),
    ],
)
def test_bad_input_is_a_usage_error(kube, args, message):
    run = codeweaver("doctor", "--kubernetes", "--kubeconfig", str(kube), *args)
    assert run.returncode == 2, run.stdout + run.stderr
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_namespace_needs_kubernetes():
    run = codeweaver("doctor", "--namespace", "codeweaver")
    assert run.returncode == 2 and "need --kubernetes" in run.stderr


def test_a_kubeconfig_that_is_not_one_is_a_config_error(tmp_path):
    bad = tmp_path / "kubeconfig"
    bad.write_text("clusters: [")
    run = codeweaver("doctor", "--kubernetes", "--kubeconfig", str(bad))
    assert run.returncode == 2 and "cannot load kubeconfig" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------- log collection


def line(level: str, message: str, ago: float, **fields: object) -> list[str]:
    when = datetime.now(UTC) - timedelta(seconds=ago)
    text = json.dumps(
        {
            "timestamp": when.isoformat().replace("+00:00", "Z"),
            "level": level,
            "logger": "codeweaver.api",
            "message": message,
            **fields,
        }
    )
    return [when.isoformat(), text]


def log_scenario() -> dict:
    scenario = healthy()
    store_error = {"error_type": "StoreError", "component": "vector_store"}
    scenario["logs"] = {
        "codeweaver-0/codeweaver": [
            line("ERROR", "old failure", 7200, **store_error),
            line("INFO", "started", 600),
            line("ERROR", "store call failed", 300, **store_error),
        ],
        "codeweaver-1/codeweaver": [
            line("ERROR", "store call failed", 120, **store_error),
            line("CRITICAL", "data dir unwritable", 60, error_type="OSError"),
        ],
    }
    return scenario


def analyze(kube: Path, *extra: str):
    return codeweaver("logs", "analyze", "--kubernetes", "--kubeconfig", str(kube), *extra)


def test_logs_are_collected_and_analyzed_together(api, kube, tmp_path):
    api.put(log_scenario())
    out = tmp_path / "collected"
    run = analyze(kube, "--since", "1h", "--output", str(out), "--json")
    assert run.returncode == 0, run.stderr
    body = json.loads(run.stdout)
    files = sorted(p.name for p in out.iterdir())
    assert files == ["codeweaver-0_codeweaver.log", "codeweaver-1_codeweaver.log"]
    # the two-hour-old line was not asked for: the API was given the range
    assert "old failure" not in (out / files[0]).read_text()
    assert body["lines"] == 4 and body["store_errors"] == 2 and body["critical_errors"] == 1
    assert body["kubernetes"]["namespace"] == NS
    assert [c["pod"] for c in body["kubernetes"]["collected"]] == ["codeweaver-0", "codeweaver-1"]
    logs = [r for r in api.requests() if r["path"].endswith("/log")]
    assert {r["query"]["sinceSeconds"] for r in logs} == {"3600"}
    assert {r["query"]["container"] for r in logs} == {"codeweaver"}
    run = analyze(kube, "--since", "3h", "--output", str(tmp_path / "wider"))
    assert run.returncode == 0, run.stderr
    assert "collected 2 logs into" in run.stdout
    assert "old failure" in (tmp_path / "wider" / files[0]).read_text()


def test_untrusted_pod_names_stay_inside_the_output_folder(api, kube, tmp_path):
    scenario = log_scenario()
    evil = "../../evil"
    scenario["pods"] = [pod(evil, container="../x"), pod("codeweaver-0")]
    scenario["logs"][f"{evil}/../x"] = [line("INFO", "hello", 10)]
    api.put(scenario)
    out = tmp_path / "out"
    out.mkdir()
    (out / "codeweaver-0_codeweaver.log").write_text("kept\n")  # never overwritten
    run = analyze(kube, "--output", str(out), "--json")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "codeweaver-0_codeweaver.2.log",
        "codeweaver-0_codeweaver.log",
        "evil_x.log",
    ]
    assert (out / "codeweaver-0_codeweaver.log").read_text() == "kept\n"
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()
    assert log_file_name("..", "/") == "unnamed_unnamed.log"
    assert (
        log_file_name("a" * 300, "b").endswith(".log") and len(log_file_name("a" * 300, "b")) <= 124
    )


def test_log_collection_failures(api, kube, tmp_path):
    scenario = log_scenario()
    scenario["forbidden"] = ["pods/log"]
    api.put(scenario)
    run = analyze(kube, "--output", str(tmp_path / "a"))
    assert run.returncode == 1
    assert "forbidden" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    api.put({**log_scenario(), "pods": []})
    run = analyze(kube, "--output", str(tmp_path / "b"))
    assert run.returncode == 2 and "no CodeWeaver pods in namespace codeweaver" in run.stderr
    (tmp_path / "file").write_text("x")
    api.put(log_scenario())
    run = analyze(kube, "--output", str(tmp_path / "file"))
    assert run.returncode == 2 and "is not a directory" in run.stderr
    run = codeweaver("logs", "analyze", "--kubernetes", "some.log")
    assert run.returncode == 2 and "give no PATH" in run.stderr
    run = codeweaver("logs", "analyze")
    assert run.returncode == 2 and "--kubernetes" in run.stderr
    server = f"http://127.0.0.1:{free_port()}"
    run = analyze(kubeconfig(tmp_path, server), "--output", str(tmp_path / "c"))
    assert run.returncode == 1 and "cannot reach the Kubernetes API" in run.stderr


def test_the_selector_is_the_label_the_manifests_put_on_codeweaver():
    key, _, value = SELECTOR.partition("=")
    seen = 0
    for path in (ROOT / "deploy" / "kubernetes").rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("metadata", {}).get("name") != "codeweaver":
                continue
            if doc["kind"] in ("StatefulSet", "Deployment"):
                assert doc["spec"]["template"]["metadata"]["labels"][key] == value, path
                seen += 1
            elif doc["kind"] == "Service":
                assert doc["metadata"]["labels"][key] == value, path
                seen += 1
    assert seen == 3
