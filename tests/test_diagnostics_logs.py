"""``codeweaver logs analyze`` on logs with known counts (JSON lines in the server's format,
plain-text lines, lines outside the window), and on a log the server itself writes."""

from __future__ import annotations

import json
import random
import signal
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ops_helpers import codeweaver, free_port, process

NOW = datetime.now(UTC)


def rec(level: str, logger: str, message: str, *, ago: float = 60.0, **fields: object) -> str:
    stamp = (NOW - timedelta(seconds=ago)).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {
            "timestamp": stamp,
            "level": level,
            "logger": logger,
            "message": message,
            "request_id": "r",
            "tenant_id": "default",
            **fields,
        }
    )


def access(status: int, duration_ms: float, **kw: object) -> str:
    return rec(
        "INFO",
        "codeweaver.access",
        "request",
        method="POST",
        route="/api/v1/search",
        status=status,
        duration_ms=duration_ms,
        **kw,
    )


def known_log() -> list[str]:
    lines: list[str] = []
    lines += [access(200, 50.0) for _ in range(89)]
    lines += [access(500, 80.0) for _ in range(6)]
    lines += [access(401, 3.0) for _ in range(3)]
    lines += [access(200, 2500.0) for _ in range(2)]
    lines += [rec("WARNING", "codeweaver.access", "slow request", duration_ms=2500.0)] * 2
    lines += [
        rec(
            "INFO",
            "codeweaver.search",
            "search",
            query_type="natural_language",
            result_count=10,
            duration_ms=40.0,
        )
        for _ in range(34)
    ]
    lines += [
        rec(
            "INFO",
            "codeweaver.search",
            "search",
            query_type="identifier",
            result_count=3,
            duration_ms=1500.0,
        )
        for _ in range(3)
    ]
    lines += [rec("WARNING", "codeweaver.search", "slow search", duration_ms=1500.0)] * 3
    lines += [
        rec(
            "ERROR",
            "codeweaver.search",
            "search failed",
            error_type="EmbeddingError",
            component="embedder",
        )
    ] * 3
    lines += [
        rec(
            "ERROR",
            "codeweaver.api",
            "store call failed",
            error_type="StoreError",
            component="vector_store",
        )
    ] * 4
    lines += [
        rec("INFO", "codeweaver.audit", "audit", event="auth.login.failure", user="mallory")
    ] * 12
    lines += [rec("INFO", "codeweaver.audit", "audit", event="authz.denied", user="bob")] * 2
    lines += [
        rec("CRITICAL", "codeweaver.api", "data dir unwritable: disk full", error_type="OSError")
    ]
    lines += [rec("WARNING", "codeweaver.api", "high memory usage: 5200 MiB")] * 2
    stamp = (NOW - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S,123")
    lines += [
        f"{stamp} ERROR codeweaver.index: IndexingError: cannot parse src/x.py",
        "INFO codeweaver.api: started",
        "Traceback (most recent call last):",
        "",
    ]
    random.Random(7).shuffle(lines)
    # three hours old: only counted without --since
    old = (NOW - timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S,000")
    lines.append(f"{old} ERROR codeweaver.api: StoreError: qdrant connection refused")
    lines += [
        rec(
            "ERROR",
            "codeweaver.api",
            "old",
            ago=3 * 3600,
            error_type="StoreError",
            component="vector_store",
        )
    ] * 10
    return lines


def analyze(path, *extra: str) -> dict:
    run = codeweaver("logs", "analyze", str(path), "--json", *extra)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def test_known_counts_with_since(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("\n".join(known_log()) + "\n")
    got = analyze(log, "--since", "1h")
    assert got["outside_window"] == 11
    assert got["text_lines"] == 2 and got["unparsed_lines"] == 1
    assert got["requests"] == 100 and got["server_errors"] == 6
    assert got["error_rate"] == pytest.approx(0.06)
    assert got["slow_requests"] == 2  # access lines and warnings describe the same two
    assert got["searches"] == 37 and got["slow_searches"] == 3 and got["failed_searches"] == 3
    assert got["auth_failures"] == 12 and got["authz_denied"] == 2
    assert got["store_errors"] == 4
    assert got["critical_errors"] == 1 and "disk full" in got["critical_samples"][0]
    assert got["memory_warnings"] == 2
    assert got["errors_by_type"] == {
        "StoreError": 4,
        "EmbeddingError": 3,
        "OSError": 1,
        "IndexingError": 1,
    }
    recs = " ".join(got["recommendations"])
    assert "12 authentication failures" in recs and "error rate 6.00 %" in recs
    assert "vector-store errors" not in recs  # 4 is not over 5
    assert "failed searches" not in recs


def test_without_since_counts_old_lines(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("\n".join(known_log()) + "\n")
    got = analyze(log)
    assert got["outside_window"] == 0 and got["store_errors"] == 15
    assert "15 vector-store errors" in " ".join(got["recommendations"])


def test_stdin_gzip_and_text_output(tmp_path):
    import gzip
    import subprocess

    data = ("\n".join(known_log()) + "\n").encode()
    gz = tmp_path / "app.log.gz"
    gz.write_bytes(gzip.compress(data))
    assert analyze(gz, "--since", "1h")["requests"] == 100
    run = subprocess.run(
        [sys.executable, "-m", "codeweaver.cli.app", "logs", "analyze", "-", "--since", "2h"],
        input=data,
        capture_output=True,
        check=False,
    )
    out = run.stdout.decode()
    assert run.returncode == 0 and "auth failures    12" in out and "StoreError" in out


def test_bad_input(tmp_path):
    run = codeweaver("logs", "analyze", str(tmp_path / "missing.log"))
    assert run.returncode == 2 and "cannot read log file" in run.stderr
    run = codeweaver("logs", "analyze", str(tmp_path), "--since", "yesterday")
    assert run.returncode == 2 and "invalid --since" in run.stderr


def test_scripted_session_server_log(tmp_path):
    """Drive a live server through known traffic and analyse the log it wrote.

    Counts come from the server's JSON access records when it writes them, else from its
    plain-text (uvicorn) access lines; search records are checked when present.
    """
    port = free_port()
    log = tmp_path / "serve.log"
    env = {"CODEWEAVER_HOME": str(tmp_path / "home"), "CODEWEAVER_LOG_LEVEL": "info"}
    args = [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)]
    root = tmp_path / "svc"
    root.mkdir()
    (root / "a.py").write_text("def upload_with_retry(path):\n    return path\n")
    sent = 0
    with process(args, log, env, cwd=tmp_path) as proc, httpx.Client(timeout=30) as c:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:  # the server accepts connections only once started: every answer is 200
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            try:
                assert c.get(f"{base}/health/live").status_code == 200
                sent += 1
                break
            except httpx.TransportError:
                time.sleep(0.1)
        job = c.post(f"{base}/api/v1/index", json={"path": str(root)}).json()["job_id"]
        sent += 1
        while c.get(f"{base}/api/v1/jobs/{job}").json()["state"] not in ("succeeded", "failed"):
            sent += 1
            time.sleep(0.05)
        sent += 1
        for _ in range(5):
            assert c.post(f"{base}/api/v1/search", json={"query": "upload"}).status_code == 200
        for _ in range(2):
            assert c.post(f"{base}/api/v1/search", json={"query": ""}).status_code == 422
        missing = c.post(f"{base}/api/v1/search", json={"query": "x", "project": "nope"})
        assert missing.status_code == 404
        sent += 8
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    got = analyze(log)
    assert got["requests"] == sent, (sent, got)
    assert got["client_errors"] == 3 and got["server_errors"] == 0
    assert got["error_rate"] == 0.0 and got["critical_errors"] == 0
    if any('"codeweaver.search"' in ln for ln in log.read_text().splitlines()):
        assert got["searches"] == 5 and got["failed_searches"] == 0


def test_audit_events_the_server_wrote(tmp_path):
    """Failed logins and authorization denials made over HTTP against a real server (auth
    jwt) are counted on its log (audit records inside ``message``) and on ``audit.log``."""
    from attack_server import attack_server

    with attack_server(tmp_path) as srv:
        for user in ("alice", "alice", "nobody"):
            assert srv.login(user, "wrong-password-123").status_code == 401
        for _ in range(2):  # a read-only user may not index
            r = srv.client.post(
                "/api/v1/index", json={"path": str(srv.acme)}, headers=srv.auth("ro")
            )
            assert r.status_code == 403, r.text
        log = srv.log
    audit = tmp_path / "home" / "audit.log"
    lines = log.read_text().splitlines()
    assert any('"logger": "codeweaver.audit"' in ln and "authz.denied" in ln for ln in lines)
    for path in (log, audit):
        got = analyze(path)
        assert got["auth_failures"] == 3, (path.name, got)
        assert got["authz_denied"] == 2, (path.name, got)
    assert "3 authentication failures" not in " ".join(analyze(audit)["recommendations"])
