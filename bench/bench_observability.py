"""What metrics and structured logging cost per search request, measured over real HTTP.

    python bench/bench_observability.py [--requests 400] [--path src/codeweaver] [--same]

Indexes --path once (default model), makes two copies of the data directory, starts two
`codeweaver serve` processes on loopback: "on" (Prometheus metrics, JSON logs at info
level to a file: one access line and one search line per request) and "off" (metrics
switched off, log level warning: nothing written). One client then alternates
searches between them (on, off, on, off ...) so drift hits both alike, and prints the
median latency of each and the median of the paired differences. Prometheus-style
scrapes of "on" run every 15 s meanwhile, as the shipped prometheus.yml does.

On a shared 2-core machine a search's own jitter (~1 ms) hides a fraction of a
millisecond (``--same`` runs two "off" servers to show the setup's own spread), so the
script then runs the whole app in process, twice over copies of one index, with the
model replaced by a hash so the rest of the request dominates: "on" and "off" apps
answer alternating searches through httpx's ASGI transport (FastAPI, middleware, the
instrumented store and embedder, JSON file logging all included).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

QUERIES = [
    "where are search results fused",
    "parse_query",
    "retry a failed upload",
    "open the vector store",
    "Engine.search",
    "load settings from a toml file",
    "count tokens of a chunk",
    "JobManager",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(home: Path, env_extra: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "CODEWEAVER_HOME": str(home), **env_extra}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise SystemExit(log.read_text())
        try:
            if httpx.get(f"{base}/health/ready", timeout=5).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("server never became ready")
        time.sleep(0.2)


class _Embedder:
    """A fast deterministic stand-in for the model: the app around it is what is timed."""

    model_id = "bench-hash"
    dim = 64

    def _one(self, text: str) -> list[float]:
        h = hashlib.blake2b(text.encode(), digest_size=self.dim).digest()
        v = [b - 127.5 for b in h]
        n = sum(x * x for x in v) ** 0.5
        return [x / n for x in v]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._one(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._one(text)


def in_process(tmp: Path, path: str, n: int) -> tuple[float, float]:
    """Median µs per search request through the whole app in process: on, off.

    Two apps over two copies of one index (the model replaced by a hash, so the rest
    of the request dominates): "on" with metrics, instrumented store and embedder and
    JSON logs at info to a file; "off" without. Requests alternate between them.
    """
    from prometheus_client import CollectorRegistry

    from codeweaver.api import create_app
    from codeweaver.config import Settings
    from codeweaver.container import build_engine
    from codeweaver.telemetry.logs import configure_logging
    from codeweaver.telemetry.metrics import Metrics

    base = Settings(home=tmp / "inproc")
    build_engine(base, embedder=_Embedder()).index(path, "bench")
    shutil.copytree(tmp / "inproc", tmp / "inproc-on")
    shutil.copytree(tmp / "inproc", tmp / "inproc-off")
    configure_logging("info", "json", tmp / "inproc.jsonl")
    root = logging.getLogger()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the bench's own client
    metrics = Metrics(CollectorRegistry())
    on_settings = Settings(home=tmp / "inproc-on")
    off_settings = Settings(home=tmp / "inproc-off", observability={"metrics": False})
    on_engine = build_engine(on_settings, embedder=_Embedder(), metrics=metrics)
    off_engine = build_engine(off_settings, embedder=_Embedder())
    apps = {
        "on": create_app(
            on_settings, on_engine, metrics=metrics, mount_mcp=False, auth_mode="none"
        ),
        "off": create_app(off_settings, off_engine, mount_mcp=False, auth_mode="none"),
    }
    times: dict[str, list[float]] = {"on": [], "off": []}

    async def run() -> None:
        async with (
            apps["on"].router.lifespan_context(apps["on"]),
            apps["off"].router.lifespan_context(apps["off"]),
        ):
            clients = {
                name: httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
                )
                for name, app in apps.items()
            }
            for i in range(n + 50):
                body = {"query": QUERIES[i % len(QUERIES)]}
                for name in ("on", "off") if i % 2 == 0 else ("off", "on"):
                    root.setLevel(logging.INFO if name == "on" else logging.WARNING)
                    t0 = time.perf_counter()
                    r = await clients[name].post("/api/v1/search", json=body)
                    if i >= 50:
                        times[name].append(time.perf_counter() - t0)
                    assert r.status_code == 200, r.text
            for c in clients.values():
                await c.aclose()

    try:
        asyncio.run(run())
    finally:
        on_engine.close()
        off_engine.close()
        root.handlers.clear()
    return statistics.median(times["on"]) * 1e6, statistics.median(times["off"]) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400, help="searches per server")
    ap.add_argument(
        "--same", action="store_true", help="both servers off: the setup's own bias (A/A)"
    )
    ap.add_argument("--path", default=str(Path(__file__).resolve().parents[1] / "src/codeweaver"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cw-obs-"))
    procs: list[subprocess.Popen] = []
    stop = threading.Event()
    try:
        home, home_on, home_off = tmp / "home", tmp / "home-on", tmp / "home-off"
        env = {**os.environ, "CODEWEAVER_HOME": str(home)}
        subprocess.run(
            [sys.executable, "-m", "codeweaver.cli.app", "index", args.path, "--project", "bench"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        shutil.copytree(home, home_on)  # two identical copies, neither the indexer's own
        shutil.copytree(home, home_off)
        on_log = tmp / "on.jsonl"
        off_env = {"CODEWEAVER_LOG_LEVEL": "warning", "CODEWEAVER_OBSERVABILITY__METRICS": "false"}
        on_env = {
            "CODEWEAVER_LOG_LEVEL": "info",
            "CODEWEAVER_OBSERVABILITY__LOG_FILE": str(on_log),
            "CODEWEAVER_OBSERVABILITY__LOG_FORMAT": "json",
        }
        p_on, on = serve(home_on, off_env if args.same else on_env, tmp / "on.out")
        procs.append(p_on)
        p_off, off = serve(home_off, off_env, tmp / "off.out")
        procs.append(p_off)

        def scrape() -> None:
            with httpx.Client(timeout=10) as c:
                while not stop.wait(15.0) and not args.same:
                    c.get(f"{on}/metrics")

        threading.Thread(target=scrape, daemon=True).start()
        times: dict[str, list[float]] = {"on": [], "off": []}
        with httpx.Client(timeout=30) as c:
            for i in range(40):  # warm both up
                for base in (on, off):
                    c.post(f"{base}/api/v1/search", json={"query": QUERIES[i % len(QUERIES)]})
            for i in range(args.requests):
                body = {"query": QUERIES[i % len(QUERIES)], "limit": 10}
                order = (("on", on), ("off", off)) if i % 2 == 0 else (("off", off), ("on", on))
                for name, base in order:
                    t0 = time.perf_counter()
                    r = c.post(f"{base}/api/v1/search", json=body)
                    times[name].append((time.perf_counter() - t0) * 1000.0)
                    assert r.status_code == 200, r.text
        stop.set()
        lines = on_log.read_text().count('"message": "search"') if on_log.exists() else 0
        med_on, med_off = statistics.median(times["on"]), statistics.median(times["off"])
        paired = statistics.median(a - b for a, b in zip(times["on"], times["off"], strict=True))
        print(f"searches per server: {args.requests} (alternating), index: {args.path}")
        print(f"median on  (metrics + JSON logs): {med_on:.3f} ms")
        print(f"median off (no metrics, no logs): {med_off:.3f} ms")
        print(f"added: {med_on - med_off:+.3f} ms (difference of medians)")
        print(f"added: {paired:+.3f} ms (median of paired differences)")
        print(f"search log lines written by 'on': {lines}")
        stop.set()
        for proc in procs:  # free the cores for the in-process part
            proc.terminate()
            proc.wait(30)
        procs.clear()
        us_on, us_off = in_process(tmp, args.path, args.requests)
        print(
            f"in process, whole app, model replaced by a hash, {args.requests} alternating: "
            f"on {us_on:.0f} µs, off {us_off:.0f} µs, added {(us_on - us_off) / 1000.0:.3f} ms"
        )
    finally:
        stop.set()
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
