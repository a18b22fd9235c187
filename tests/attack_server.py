"""A real ``codeweaver serve`` with users, keys and two tenants' projects, for the attack
matrix tests: the server, its audit log, and the one check of a refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

import pg_server
from codeweaver.auth.admin import Admin
from codeweaver.auth.audit import AuditLog
from codeweaver.auth.rbac import Roles
from codeweaver.auth.setup import open_store
from codeweaver.config import load_settings
from net_helpers import free_port as _free_port
from net_helpers import wait_http

SECRET = "attack-matrix-secret-0123456789abcdef"
PASSWORD = "correct-horse-battery-staple"
ACME_PY = '''def upload_with_retry(client, path, attempts=3):
    """Upload a file, retrying on connection errors."""
    for attempt in range(attempts):
        try:
            return client.put(path)
        except ConnectionError:
            continue
'''
GLOBEX_PY = "def globex_ledger_total(rows):\n    return sum(r.amount for r in rows)\n"
OUTSIDE = "TOP-SECRET-OUTSIDE-THE-ROOT\n"
USERS = {  # name: (role, tenant)
    "am": ("manager", "acme"),
    "gm": ("manager", "globex"),
    "alice": ("developer", "acme"),
    "mallory": ("developer", "globex"),
    "ro": ("readonly", "acme"),
    "dis": ("developer", "acme"),
    "lock": ("developer", "acme"),
    "flood": ("readonly", "acme"),
}


class Server:
    def __init__(self, base: str, home: Path, env: dict[str, str], tmp: Path) -> None:
        self.base = base
        self.home = home
        self.env = env
        self.tmp = tmp
        self.keys: dict[str, str] = {}
        self.secrets: list[str] = [PASSWORD, SECRET]
        self.tokens: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, str] = {}
        self.client = httpx.Client(base_url=base, timeout=60)

    def login(self, user: str, password: str = PASSWORD) -> httpx.Response:
        r = self.client.post("/auth/token", json={"username": user, "password": password})
        if r.status_code == 200:
            self.secrets += [r.json()["access_token"], r.json()["refresh_token"]]
        return r

    def token(self, user: str) -> str:
        if user not in self.tokens:
            r = self.login(user)
            assert r.status_code == 200, r.text
            self.tokens[user] = r.json()
        return str(self.tokens[user]["access_token"])

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def audit(self, request_id: str | None = None, **match: Any) -> list[dict[str, Any]]:
        path = self.home / "audit.log"
        lines = path.read_text().splitlines() if path.exists() else []
        records = [json.loads(line) for line in lines]
        if request_id is not None:
            records = [r for r in records if r["request_id"] == request_id]
        return [r for r in records if all(r.get(k) == v for k, v in match.items())]

    def admin(self) -> Admin:
        store = open_store(load_settings(**self._settings()))
        return Admin(store, Roles(), AuditLog(self.home / "audit.log"), actor="cli:test")

    def _settings(self) -> dict[str, Any]:
        url = self.env.get("CODEWEAVER_DATABASE__URL")
        return {"home": self.home, "database": {"url": url}}


def _make_tree(tmp: Path) -> tuple[Path, Path]:
    acme, globex = tmp / "acme-src", tmp / "globex-src"
    acme.mkdir()
    globex.mkdir()
    (acme / "upload.py").write_text(ACME_PY)
    (acme / "link.py").write_text("def harmless():\n    return 1\n")
    (tmp / "outside.txt").write_text(OUTSIDE)
    (globex / "ledger.py").write_text(GLOBEX_PY)
    return acme, globex


@contextmanager
def attack_server(
    tmp: Path, backend: str = "sqlite", extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    """A real ``codeweaver serve`` (auth jwt) in ``tmp`` with the users of ``USERS``, an
    ``svc`` service account with good/revoked/expired keys, and the projects ``acme`` and
    ``globex`` indexed by their managers. ``backend`` is "sqlite" or "postgresql"."""
    home = tmp / "home"
    env = {
        **os.environ,
        "CODEWEAVER_HOME": str(home),
        "CODEWEAVER_AUTH__MODE": "jwt",
        "CODEWEAVER_AUTH__SECRET": SECRET,
        "CODEWEAVER_AUTH__USER_RATE": "1",
        "CODEWEAVER_AUTH__USER_BURST": "150",
        "CODEWEAVER_AUTH__TENANT_RATE": "0",
        "CODEWEAVER_INDEX__ALLOWED_ROOTS": json.dumps([str(tmp)]),  # managers index in tmp
        "CODEWEAVER_LOG_LEVEL": "info",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    stack: list[Any] = []
    if backend == "postgresql":
        if not pg_server.available():
            pytest.skip("PostgreSQL 15 server binaries are not installed")
        cm = pg_server.postgres()
        url = cm.__enter__()
        stack.append(cm)
        name = "cw_" + uuid.uuid4().hex[:8]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        env["CODEWEAVER_DATABASE__URL"] = url.rsplit("/", 1)[0] + "/" + name
    port = _free_port()
    srv = Server(f"http://127.0.0.1:{port}", home, env, tmp)
    srv.acme, srv.globex = _make_tree(tmp)  # type: ignore[attr-defined]
    admin = srv.admin()
    for name, (role, tenant) in USERS.items():
        admin.add_user(name, role, tenant, PASSWORD)
    admin.add_user("svc", "developer", "acme", None, service=True)
    for label in ("good", "revoked", "expired"):
        days = 1e-6 if label == "expired" else None
        record, key = admin.create_key("svc", label, days)
        srv.keys[label] = key
        srv.keys[label + "_id"] = record.key_id
        srv.secrets.append(key)
    admin.revoke_key(srv.keys["revoked_id"])
    admin.store.db.close()
    log = tmp / "server.log"
    out = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)],
        cwd=tmp,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(f"{srv.base}/health/ready", proc, log)
        index_project(srv, "am", srv.acme, "acme")  # type: ignore[attr-defined]
        index_project(srv, "gm", srv.globex, "globex")  # type: ignore[attr-defined]
        srv.log = log  # type: ignore[attr-defined]
        yield srv
    finally:
        srv.client.close()
        stop(proc)
        out.close()
        for cm in stack:
            cm.__exit__(None, None, None)


MCP_INITIALIZE = {  # the first JSON-RPC request of an MCP session over HTTP
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "attack-test", "version": "0"},
    },
}


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the process has not ended within 30 s."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def index_project(srv: Server, user: str, root: Path, project: str) -> None:
    r = srv.client.post(
        "/api/v1/index", json={"path": str(root), "project": project}, headers=srv.auth(user)
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    srv.jobs[project] = job_id
    deadline = time.monotonic() + 90
    while True:
        job = srv.client.get(f"/api/v1/jobs/{job_id}", headers=srv.auth(user)).json()
        if job["state"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job["state"] == "succeeded" and job["tenant"] == project, job


def refused(srv: Server, r: httpx.Response, status: int, event: str = "authz.denied") -> None:
    """Right status, the one error shape, no data, and an audit record of it."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    for leak in ("upload_with_retry", "globex_ledger_total", OUTSIDE.strip()):
        assert leak not in r.text
    rid = r.headers["x-request-id"]
    assert srv.audit(rid, event=event), f"no {event} audit record for {r.request.url}"
