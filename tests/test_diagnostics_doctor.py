"""``codeweaver doctor`` against real processes: a live server, a server whose store is
unreachable, a server that checks tokens, and a server behind a short-lived certificate."""

from __future__ import annotations

import json
import sys
import time

import httpx
import pytest

from ops_helpers import codeweaver, free_port, process, self_signed, stub_server, wait_http

PY = '''def upload_with_retry(client, path, attempts=3):
    """Upload a file, retrying on connection errors."""
    for attempt in range(attempts):
        try:
            return client.put(path)
        except ConnectionError:
            continue
'''


def checks(out: str) -> dict[str, str]:
    data = json.loads(out)
    return {c["name"]: c["status"] for c in data["checks"]}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live")
    port = free_port()
    env = {"CODEWEAVER_HOME": str(tmp / "home"), "PYTHONUNBUFFERED": "1"}
    log = tmp / "serve.log"
    args = [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)]
    with process(args, log, env, cwd=tmp) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health/ready", proc, log)
        root = tmp / "svc"
        root.mkdir()
        (root / "upload.py").write_text(PY)
        with httpx.Client(base_url=base, timeout=30) as c:
            job = c.post("/api/v1/index", json={"path": str(root)}).json()["job_id"]
            deadline = time.monotonic() + 60
            while c.get(f"/api/v1/jobs/{job}").json()["state"] not in ("succeeded", "failed"):
                assert time.monotonic() < deadline
                time.sleep(0.1)
            for _ in range(10):  # repeated: any result or embedding cache warms up
                assert c.post("/api/v1/search", json={"query": "retry upload"}).status_code == 200
        yield base


def test_doctor_live_server_passes(live):
    run = codeweaver("doctor", "--url", live, "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    got = checks(run.stdout)
    for name in (
        "service health",
        "authentication",
        "vector store",
        "disk space",
        "index freshness",
    ):
        assert got[name] == "PASS", (name, run.stdout)
    assert got["tls certificate"] == "SKIP"  # plain http
    assert "FAIL" not in got.values() and "WARN" not in got.values()
    text = codeweaver("doctor", "--url", live)
    assert text.returncode == 0
    assert "PASS service health" in text.stdout and "\x1b[" not in text.stdout  # piped: plain


def test_doctor_token_given_to_server_without_auth_warns(live):
    run = codeweaver("doctor", "--url", live, "--token", "abc", "--json")
    assert run.returncode == 3, run.stdout
    assert checks(run.stdout)["authentication"] == "WARN"


def test_doctor_broken_store_fails(tmp_path):
    home = tmp_path / "home"
    folder = home / "projects" / "demo"
    folder.mkdir(parents=True)
    (folder / "project.json").write_text(json.dumps({"name": "demo", "root": str(tmp_path)}))
    dead = free_port()  # nothing listens here: the Qdrant server is "down"
    env = {
        "CODEWEAVER_HOME": str(home),
        "CODEWEAVER_QDRANT__MODE": "server",
        "CODEWEAVER_QDRANT__URL": f"http://127.0.0.1:{dead}",
        "CODEWEAVER_QDRANT__TIMEOUT": "1",
    }
    port = free_port()
    log = tmp_path / "serve.log"
    args = [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)]
    with process(args, log, env, cwd=tmp_path) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health/live", proc, log)
        run = codeweaver("doctor", "--url", base, "--json")
    assert run.returncode == 1, run.stdout + run.stderr
    got = checks(run.stdout)
    assert got["service health"] == "FAIL" and got["vector store"] == "FAIL", got


def test_doctor_wrong_token_fails_right_token_passes(tmp_path):
    with stub_server(tmp_path, "--token", "s3cret") as base:
        wrong = codeweaver("doctor", "--url", base, "--token", "nope", "--json")
        right = codeweaver("doctor", "--url", base, "--token", "s3cret", "--json")
        missing = codeweaver("doctor", "--url", base)
    assert wrong.returncode == 1
    assert checks(wrong.stdout)["authentication"] == "FAIL"
    assert "token rejected" in wrong.stdout
    assert checks(right.stdout)["authentication"] == "PASS"
    assert "the server requires a token" in missing.stdout and missing.returncode == 1


def test_doctor_short_lived_certificate_warns(tmp_path):
    cert, key = self_signed(tmp_path, days=5)
    tls = ("--cert", str(cert), "--key", str(key), "--no-metrics")
    with stub_server(tmp_path, *tls, https=True) as base:
        trusted = codeweaver("doctor", "--url", base, "--ca-file", str(cert), "--json")
        untrusted = codeweaver("doctor", "--url", base, "--json")
    assert trusted.returncode == 3, trusted.stdout + trusted.stderr
    got = checks(trusted.stdout)
    assert got["tls certificate"] == "WARN" and got["service health"] == "PASS", got
    assert "days" in trusted.stdout
    # without the CA the certificate is not trusted: the service cannot even be reached
    assert untrusted.returncode == 1
    assert checks(untrusted.stdout)["tls certificate"] == "FAIL"


def test_doctor_long_lived_certificate_passes(tmp_path):
    cert, key = self_signed(tmp_path, days=90)
    tls = ("--cert", str(cert), "--key", str(key), "--no-metrics")
    with stub_server(tmp_path, *tls, https=True) as base:
        run = codeweaver("doctor", "--url", base, "--ca-file", str(cert), "--json")
    got = checks(run.stdout)
    assert got["tls certificate"] == "PASS", run.stdout
    assert got["request latency"] == "SKIP" and "HTTP 404" in run.stdout
    assert run.returncode == 0


def test_doctor_reads_metrics(tmp_path):
    """The stub's traffic: p95 100 ms, 2 of 150 requests per scrape fail, cache 80 % / 30 %."""
    with stub_server(tmp_path) as base:
        run = codeweaver("doctor", "--url", base, "--json")
    got = checks(run.stdout)
    assert got["request latency"] == "PASS" and "p95 100.0 ms" in run.stdout
    assert got["error rate"] == "FAIL" and "1.33 %" in run.stdout
    # the results cache (80 %) is judged; the embedding cache (30 %) is only reported
    assert got["cache"] == "PASS" and "embedding 30.00 %" in run.stdout
    assert got["memory"] == "PASS" and "900 MiB" in run.stdout
    assert run.returncode == 1


def test_doctor_local_mode(tmp_path):
    env = {"CODEWEAVER_HOME": str(tmp_path / "home")}
    run = codeweaver("doctor", "--json", env=env)
    got = checks(run.stdout)
    assert got["model files"] == "PASS" and got["embedder"] == "PASS", run.stdout
    assert got["data dir"] == "WARN" and got["vector store"] == "WARN"
    assert run.returncode == 3
    root = tmp_path / "code"
    root.mkdir()
    (root / "upload.py").write_text(PY)
    assert codeweaver("index", str(root), env=env).returncode == 0
    run = codeweaver("doctor", "--json", env=env)
    assert run.returncode == 0, run.stdout
    assert set(checks(run.stdout).values()) == {"PASS"}


def test_doctor_bad_url_is_usage_error():
    run = codeweaver("doctor", "--url", "ftp://x")
    assert run.returncode == 2 and "invalid URL" in run.stderr


def test_doctor_unreachable_prometheus_fails(tmp_path):
    with stub_server(tmp_path) as base:
        dead = f"http://127.0.0.1:{free_port()}"
        run = codeweaver("doctor", "--url", base, "--prometheus-url", dead, "--json")
    got = checks(run.stdout)
    assert got["metrics"] == "FAIL" and got["request latency"] == "SKIP", run.stdout
    assert run.returncode == 1


def test_doctor_unreachable_service(tmp_path):
    run = codeweaver("doctor", "--url", f"http://127.0.0.1:{free_port()}", "--json")
    got = checks(run.stdout)
    assert got["service health"] == "FAIL" and got["vector store"] == "SKIP"
    assert run.returncode == 1
