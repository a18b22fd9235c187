"""``codeweaver serve --tls-cert/--tls-key`` as a real process: HTTPS, and bad pairs refused."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from net_helpers import free_port, wait_http
from ops_helpers import self_signed

HEALTHCHECK = Path(__file__).resolve().parents[1] / "deploy" / "docker" / "healthcheck.py"


def _env(tmp_path):
    return {**os.environ, "CODEWEAVER_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}


def _serve(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(free_port()), *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_https_with_a_certificate(tmp_path):
    cert, key = self_signed(tmp_path, days=30)
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port),
             "--tls-cert", str(cert), "--tls-key", str(key)],
            cwd=tmp_path, env=_env(tmp_path), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            trust = ssl.create_default_context(cafile=str(cert))
            wait_http(f"https://127.0.0.1:{port}/health/ready", proc, log_path, verify=trust)
            r = httpx.get(f"https://localhost:{port}/health/live", verify=trust, timeout=5)
            assert r.status_code == 200
            with pytest.raises(httpx.TransportError):  # plain HTTP is not spoken on the port
                httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=5)
            with pytest.raises(httpx.ConnectError):  # and the certificate is the one given
                httpx.get(f"https://127.0.0.1:{port}/health/live", timeout=5)
            check = [sys.executable, str(HEALTHCHECK)]
            url = f"https://127.0.0.1:{port}/health/live"  # the image's HEALTHCHECK script
            env = {**os.environ, "CODEWEAVER_HEALTH_URL": url}
            assert subprocess.run(check, env=env, timeout=30).returncode == 0
            env["CODEWEAVER_HEALTH_URL"] = f"https://127.0.0.1:{free_port()}/health/live"
            down = subprocess.run(check, env=env, timeout=30, capture_output=True, text=True)
            assert down.returncode == 1 and down.stderr.startswith("unhealthy:"), down.stderr
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def _one_line_refusal(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_missing_certificate_file_is_one_line(tmp_path):
    _, key = self_signed(tmp_path, days=30)
    missing = tmp_path / "nope.pem"
    _one_line_refusal(
        _serve(tmp_path, "--tls-cert", str(missing), "--tls-key", str(key)),
        "certificate",
        str(missing),
        "no such file",
    )


def test_missing_key_file_is_one_line(tmp_path):
    cert, _ = self_signed(tmp_path, days=30)
    _one_line_refusal(
        _serve(tmp_path, "--tls-cert", str(cert), "--tls-key", str(tmp_path)),
        "key",
        "no such file",
    )


def test_key_of_another_certificate_is_one_line(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cert, _ = self_signed(tmp_path / "a", days=30)
    _, other_key = self_signed(tmp_path / "b", days=30)
    _one_line_refusal(
        _serve(tmp_path, "--tls-cert", str(cert), "--tls-key", str(other_key)),
        "cannot be used together",
    )


def test_garbage_certificate_is_one_line(tmp_path):
    _, key = self_signed(tmp_path, days=30)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    _one_line_refusal(
        _serve(tmp_path, "--tls-cert", str(junk), "--tls-key", str(key)),
        "cannot be used together",
    )


def test_only_one_half_of_the_pair_is_one_line(tmp_path):
    cert, _ = self_signed(tmp_path, days=30)
    _one_line_refusal(_serve(tmp_path, "--tls-cert", str(cert)), "give both")
