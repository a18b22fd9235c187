"""``codeweaver serve`` as a real process: real model, real HTTP, SIGTERM shuts it down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from net_helpers import free_port
from sample_code import UPLOAD_PY

PY = UPLOAD_PY


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {**os.environ, "CODEWEAVER_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server never became ready"
            time.sleep(0.1)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()


def test_serve_index_search_and_sigterm(server, tmp_path):
    proc, base = server
    root = tmp_path / "svc"
    root.mkdir()
    (root / "upload.py").write_text(PY)
    with httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/api/v1/index", json={"path": str(root)})
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        deadline = time.monotonic() + 60
        while (job := c.get(f"/api/v1/jobs/{job_id}").json())["state"] not in (
            "succeeded",
            "failed",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert job["state"] == "succeeded" and job["files_total"] == 1, job
        r = c.post("/api/v1/search", json={"query": "retry a failed upload", "limit": 1})
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["symbol"] == "upload_with_retry"
        assert r.headers["x-request-id"]
        r = c.post("/api/v1/search", json={"query": "", "limit": 1})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
        assert c.get("/health").json()["status"] in ("healthy", "degraded")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
