"""An unreachable upstream is ``UnavailableError`` everywhere: 503 over HTTP (routes and
the auth middleware read one table), one line and exit 1 from the CLI."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from backup_support import make_codebase
from codeweaver.adapters import http_get
from codeweaver.adapters.prometheus_api import PrometheusClient
from codeweaver.adapters.tls_probe import fetch_certificate
from codeweaver.api import create_app
from codeweaver.api.errors import STATUSES, headers_for, status_for
from codeweaver.cli.errors import EXIT_FAILURE, exit_code_for
from codeweaver.config import Settings
from codeweaver.container import build_engine
from codeweaver.errors import (
    AuthenticationError,
    CodeWeaverError,
    RateLimitedError,
    StoreError,
    UnavailableError,
)
from embedder_twin import HashEmbedder
from ops_helpers import codeweaver, free_port


def test_the_http_table_answers_every_class_once():
    classes = [cls for cls, _, _ in STATUSES]
    assert len(classes) == len(set(classes))
    assert status_for(UnavailableError("x")) == (503, "unavailable")
    assert status_for(StoreError("x")) == (503, "unavailable")
    assert status_for(CodeWeaverError("x")) == (500, "internal_error")
    assert headers_for(AuthenticationError("x")) == {
        "WWW-Authenticate": 'Bearer realm="codeweaver"'
    }
    assert headers_for(RateLimitedError("x", retry_after=7.9)) == {"Retry-After": "7"}
    assert headers_for(UnavailableError("x")) == {}
    assert exit_code_for(UnavailableError("x")) == EXIT_FAILURE


def test_closed_ports_raise_unavailable():
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(UnavailableError, match=f"cannot reach Prometheus at {dead}"):
        PrometheusClient(dead, timeout=2).query("up")
    with pytest.raises(UnavailableError, match="cannot reach"):
        http_get.get(f"{dead}/metrics", timeout=2)
    with pytest.raises(UnavailableError, match="failed"):
        fetch_certificate("127.0.0.1", free_port(), timeout=2)


def test_unreachable_prometheus_is_503_over_http(tmp_path):
    make_codebase(tmp_path / "code", files=3)
    dead = f"http://127.0.0.1:{free_port()}"  # closed: nothing listens there
    backup = {"dest": (tmp_path / "vault").as_uri(), "prometheus_url": dead}
    settings = Settings(home=tmp_path / "home", backup=backup)
    engine = build_engine(settings, embedder=HashEmbedder())
    engine.index(tmp_path / "code", "proj")
    app = create_app(settings, engine, mount_mcp=False, auth_mode="none")

    async def go() -> httpx.Response:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                body = {"components": ["metrics"], "wait": True}
                return await c.post("/api/v1/admin/backups", json=body)

    try:
        r = asyncio.run(go())
    finally:
        engine.close()
    assert r.status_code == 503, r.text
    error = r.json()["error"]
    assert error["code"] == "unavailable"
    assert f"cannot reach Prometheus at {dead}" in error["message"]
    assert "\n" not in error["message"] and "Traceback" not in r.text


def test_unreachable_prometheus_is_one_line_from_the_cli():
    dead = f"http://127.0.0.1:{free_port()}"
    run = codeweaver("report", "performance", "--prometheus-url", dead)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == EXIT_FAILURE, run.stdout + run.stderr
    assert len(lines) == 1 and f"cannot reach Prometheus at {dead}" in lines[0], run.stderr
    assert "Traceback" not in run.stderr
