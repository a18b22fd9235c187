"""Auth + RBAC overhead per request, and HTTP search latency with auth on vs off.

    cd bench && python bench_auth.py [--points 100000] [--iterations 5000] [--postgres]

1. The per-request work of the auth middleware (parse the bearer, verify the JWT or
   look up the API key, check revocation and the user, RBAC, rate limits), called
   directly on a real identity store: SQLite, and PostgreSQL with --postgres (a
   throwaway server started like the tests do).
2. The same through the whole in-process ASGI stack: median of GET
   /api/v1/user/permissions with auth mode jwt minus the same with mode none.
3. `codeweaver serve` on a --points project (built like bench_http.py), twice (auth
   off, and jwt with a bearer access token, on a copy): one client, 200 searches asked
   of both servers in turn, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from codeweaver.api import create_app
from codeweaver.api.auth_middleware import AuthMiddleware, compile_table
from codeweaver.api.routes import ROUTES
from codeweaver.auth.admin import Admin
from codeweaver.auth.audit import AuditLog
from codeweaver.auth.rbac import Roles
from codeweaver.auth.setup import build_auth, build_limiter, open_store
from codeweaver.config import Settings

PASSWORD = "benchmark-password-123"
SECRET = "bench-secret-0123456789abcdef0123456789"


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def settings_for(home: Path, url: str | None, **auth: Any) -> Settings:
    return Settings(
        home=home,
        auth={"secret": SECRET, "user_rate": 0, "tenant_rate": 0, **auth},
        database={"url": url},
    )


def seed(settings: Settings) -> str:
    store = open_store(settings)
    admin = Admin(store, Roles(), AuditLog(None), actor="bench")
    admin.add_user("bench", "developer", "default", PASSWORD)
    _, key = admin.create_key("bench", "bench", None)
    store.db.close()
    return key


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    for _ in range(min(200, n)):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e6)
    return out


def direct(settings: Settings, key: str, n: int, label: str) -> None:
    service = build_auth(settings)
    token = service.login_password("bench", PASSWORD).access_token
    state = type("S", (), {"auth": service, "limiter": build_limiter(settings)})()
    mw = AuthMiddleware(
        None,  # type: ignore[arg-type]
        mode="jwt",
        table=compile_table((r.method, r.path, r.permission) for r in ROUTES),
        max_query_bytes=8192,
    )
    for kind, cred in (("JWT", token), ("API key", key)):
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/v1/search",
            "headers": [(b"authorization", f"Bearer {cred}".encode())],
            "state": {},
        }
        us = timed(lambda s=scope: mw._principal(s, state), n)
        print(
            f"auth+RBAC per request, {label}, {kind}: median {statistics.median(us):.0f} µs, "
            f"p95 {pct(us, 95):.0f} µs (n={n})"
        )
    service.store.db.close()


async def _stack_once(settings: Settings, mode: str, token: str, n: int) -> list[float]:
    app = create_app(settings, engine=_NoEngine(), mount_mcp=False, auth_mode=mode)  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {token}"} if mode == "jwt" else {}
    out: list[float] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as c:
            for i in range(n + 200):
                t = time.perf_counter()
                r = await c.get("/api/v1/user/permissions", headers=headers)
                if i >= 200:
                    out.append((time.perf_counter() - t) * 1e6)
                assert r.status_code == 200, r.text
    return out


class _NoEngine:
    """Stands in for the engine: the measured route never touches it."""

    embedder = None

    def __init__(self) -> None:
        self.search_listeners: list[Any] = []  # telemetry attaches to these
        self.index_listeners: list[Any] = []

    def list_projects(self) -> list[Any]:
        return []

    def close(self) -> None:
        return None


def stack(settings: Settings, n: int) -> None:
    service = build_auth(settings)
    token = service.login_password("bench", PASSWORD).access_token
    service.store.db.close()
    on: list[float] = []
    off: list[float] = []
    for _ in range(3):  # interleave rounds against drift
        off += asyncio.run(_stack_once(settings, "none", "", n // 3))
        on += asyncio.run(_stack_once(settings, "jwt", token, n // 3))
    m_on, m_off = statistics.median(on), statistics.median(off)
    print(
        f"whole ASGI stack, GET /api/v1/user/permissions: jwt median {m_on:.0f} µs, "
        f"none {m_off:.0f} µs, overhead {m_on - m_off:.0f} µs"
    )


@contextmanager
def postgres() -> Iterator[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import pg_server

    with pg_server.postgres() as url:
        yield url


def wait_ready(base: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            sys.exit("server did not become ready")
        time.sleep(0.2)


def start_server(home: Path, mode: str) -> tuple[subprocess.Popen[bytes], str]:
    from bench_http import free_port

    port = free_port()
    env = {
        **os.environ,
        "CODEWEAVER_HOME": str(home),
        "CODEWEAVER_AUTH__MODE": mode,
        "CODEWEAVER_AUTH__SECRET": SECRET,
        "CODEWEAVER_AUTH__USER_RATE": "0",
        "CODEWEAVER_AUTH__TENANT_RATE": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, f"http://127.0.0.1:{port}"


def search_latency(home: Path, queries: list[str]) -> dict[str, list[float]]:
    """Two servers on copies of one project, auth off and on, asked in turn (so both
    see the same machine load); per-request latencies in ms."""
    copy = home.parent / "home-jwt"
    shutil.copytree(home, copy)
    servers = {"none": start_server(home, "none"), "jwt": start_server(copy, "jwt")}
    lat: dict[str, list[float]] = {"none": [], "jwt": []}
    try:
        clients = {}
        for mode, (_, base) in servers.items():
            wait_ready(base)
            clients[mode] = httpx.Client(base_url=base, timeout=10)
        r = clients["jwt"].post("/auth/token", json={"username": "bench", "password": PASSWORD})
        clients["jwt"].headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        for i, q in enumerate(queries[:10] + queries):
            for mode, client in clients.items():
                t = time.perf_counter()
                r = client.post("/api/v1/search", json={"query": q})
                if i >= 10:
                    lat[mode].append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
        for client in clients.values():
            client.close()
        return lat
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--real", type=int, default=2000)
    ap.add_argument("--iterations", type=int, default=5000)
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--skip-search", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cw-bench-auth-"))
    sqlite_settings = settings_for(tmp / "home", None)
    key = seed(sqlite_settings)
    direct(sqlite_settings, key, args.iterations, "SQLite")
    with postgres() if args.postgres else nullcontext() as url:
        if url:
            pg_settings = settings_for(tmp / "pg-home", url)
            direct(pg_settings, seed(pg_settings), args.iterations, "PostgreSQL")
    stack(sqlite_settings, args.iterations)
    if args.skip_search:
        return
    from bench_http import build_project
    from bench_search import NL_QUERIES

    idents = build_project(tmp / "home", args.points, args.real)
    rnd = random.Random(3)
    queries = [rnd.choice(NL_QUERIES) if k % 2 == 0 else rnd.choice(idents) for k in range(200)]
    lat = search_latency(tmp / "home", queries)
    for mode, values in lat.items():
        print(f"HTTP search, one client, {args.points} chunks, auth {mode}: "
              f"p50 {statistics.median(values):.1f} ms, p95 {pct(values, 95):.1f} ms")  # fmt: skip
    diffs = [a - b for a, b in zip(lat["jwt"], lat["none"], strict=True)]
    print(f"paired difference jwt - none: median {statistics.median(diffs):.2f} ms")


if __name__ == "__main__":
    main()
