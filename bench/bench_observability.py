"""What metrics and structured logging cost per search request, measured over real HTTP.

    python bench/bench_observability.py [--requests 400] [--path src/codeweaver]

Indexes --path once (default model), copies the data directory, and starts two
`codeweaver serve` processes on loopback: "on" (Prometheus metrics, JSON logs at info
level to a file: one access line and one search line per request) and "off" (metrics
switched off, log level warning: nothing written). One client then alternates
searches between them (on, off, on, off ...) so drift hits both alike, and prints the
median latency of each and the median of the paired differences. Prometheus-style
scrapes of "on" run every 15 s meanwhile, as the shipped prometheus.yml does.

On a shared 2-core machine a search's own jitter (~1 ms) hides a fraction of a
millisecond, so the script also times, in process, exactly what "on" adds to one search
request: the request middleware (counter, histogram, in-flight gauge, access log line),
the search event (histograms, search log line) and the wrappers around one embedding
and two vector-store calls, with the same JSON file logging, against the same code
paths with metrics and logging off.
"""

from __future__ import annotations

import argparse
import asyncio
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
    model_id = "bench"
    dim = 4

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0, 0.0, 0.0] for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0, 0.0, 0.0]


class _Store:
    def search(self, query: object) -> list[object]:
        return []


def in_process(log_file: Path, n: int = 20000) -> tuple[float, float]:
    """Median µs of one search request's observability work: on, off."""
    from prometheus_client import CollectorRegistry

    from codeweaver.api.observability import ObservabilityMiddleware
    from codeweaver.ops.instrumented import InstrumentedEmbedder, InstrumentedStore
    from codeweaver.ops.logs import configure_logging
    from codeweaver.ops.metrics import Metrics
    from codeweaver.ops.telemetry import Telemetry
    from codeweaver.types import SearchEvent

    async def endpoint(scope, receive, send) -> None:  # the route, already matched
        scope["route"] = route
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    class _Route:
        path_format = "/api/v1/search"

    route = _Route()

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        return None

    def one(on: bool) -> float:
        metrics = Metrics(CollectorRegistry()) if on else None
        configure_logging("info" if on else "warning", "json", log_file)
        app = ObservabilityMiddleware(endpoint, metrics, 2000.0)
        telemetry = Telemetry(metrics, 1000.0)
        emb = InstrumentedEmbedder(_Embedder(), metrics) if metrics else _Embedder()
        store = InstrumentedStore(_Store(), "bench", metrics) if metrics else _Store()  # type: ignore[arg-type]
        event = SearchEvent("bench", "natural_language", 10, 0.004)
        loop = asyncio.new_event_loop()
        samples = []
        for _ in range(n):
            scope = {"type": "http", "method": "POST", "path": "/api/v1/search", "state": {}}
            t0 = time.perf_counter()
            loop.run_until_complete(app(scope, receive, send))
            emb.embed_query("q")
            store.search(None)
            store.search(None)
            telemetry.on_search(event)
            samples.append(time.perf_counter() - t0)
        loop.close()
        return statistics.median(samples) * 1e6

    off = one(False)
    on = one(True)
    logging.getLogger().handlers.clear()
    return on, off


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400, help="searches per server")
    ap.add_argument("--path", default=str(Path(__file__).resolve().parents[1] / "src/codeweaver"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cw-obs-"))
    procs: list[subprocess.Popen] = []
    stop = threading.Event()
    try:
        home_on, home_off = tmp / "home-on", tmp / "home-off"
        env = {**os.environ, "CODEWEAVER_HOME": str(home_on)}
        subprocess.run(
            [sys.executable, "-m", "codeweaver.cli.app", "index", args.path, "--project", "bench"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        shutil.copytree(home_on, home_off)
        on_log = tmp / "on.jsonl"
        p_on, on = serve(
            home_on,
            {
                "CODEWEAVER_LOG_LEVEL": "info",
                "CODEWEAVER_OBSERVABILITY__LOG_FILE": str(on_log),
                "CODEWEAVER_OBSERVABILITY__LOG_FORMAT": "json",
            },
            tmp / "on.out",
        )
        procs.append(p_on)
        p_off, off = serve(
            home_off,
            {"CODEWEAVER_LOG_LEVEL": "warning", "CODEWEAVER_OBSERVABILITY__METRICS": "false"},
            tmp / "off.out",
        )
        procs.append(p_off)

        def scrape() -> None:
            with httpx.Client(timeout=10) as c:
                while not stop.wait(15.0):
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
        lines = on_log.read_text().count('"message": "search"')
        med_on, med_off = statistics.median(times["on"]), statistics.median(times["off"])
        paired = statistics.median(a - b for a, b in zip(times["on"], times["off"], strict=True))
        print(f"searches per server: {args.requests} (alternating), index: {args.path}")
        print(f"median on  (metrics + JSON logs): {med_on:.3f} ms")
        print(f"median off (no metrics, no logs): {med_off:.3f} ms")
        print(f"added: {med_on - med_off:+.3f} ms (difference of medians)")
        print(f"added: {paired:+.3f} ms (median of paired differences)")
        print(f"search log lines written by 'on': {lines}")
        us_on, us_off = in_process(tmp / "inproc.jsonl")
        print(
            f"in process, per search request: on {us_on:.1f} µs, off {us_off:.1f} µs, "
            f"added {(us_on - us_off) / 1000.0:.3f} ms"
        )
    finally:
        stop.set()
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
