"""Processes, certificates and a scraping Prometheus for the operator-tool tests."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from net_helpers import free_port, wait_http

HERE = Path(__file__).resolve().parent
STUB = HERE / "ops_stub_server.py"


def self_signed(folder: Path, days: int) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost valid for ``days`` days, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def process(
    args: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=cwd
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


@contextmanager
def stub_server(tmp: Path, *extra: str, https: bool = False) -> Iterator[str]:
    port = free_port()
    log = tmp / f"stub-{port}.log"
    with process([sys.executable, str(STUB), str(port), *extra], log) as proc:
        scheme = "https" if https else "http"
        wait_http(f"{scheme}://127.0.0.1:{port}/health", proc, log, verify=False)
        yield f"{scheme}://127.0.0.1:{port}"


def codeweaver(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeweaver.cli.app", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


@contextmanager
def prometheus_scraping(tmp: Path, target: str, ready_query: str, at_least: float):
    """A real Prometheus on a free port scraping ``target`` every second; yields once
    ``ready_query`` reaches ``at_least``."""
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: codeweaver\n    static_configs:\n"
        f"      - targets: ['{target.removeprefix('http://')}']\n"
    )
    args = [
        "prometheus",
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    log = tmp / "prometheus.log"
    with process(args, log) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/-/ready", proc, log)
        wait_for_value(base, ready_query, at_least)
        yield base


def wait_for_value(prom: str, query: str, at_least: float) -> None:
    deadline = time.monotonic() + 60
    while True:
        got = httpx.get(f"{prom}/api/v1/query", params={"query": query}).json()["data"]["result"]
        if got and float(got[0]["value"][1]) >= at_least:
            return
        assert time.monotonic() < deadline, got
        time.sleep(0.5)
