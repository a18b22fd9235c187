"""Caching and provider-batching figures.

    python bench/bench_cache.py [--requests 300]

1. Cached search over HTTP: two `codeweaver serve` processes (default local model) share
   one `redis-server` (started here on a free loopback port). Server A answers repeated
   searches from its in-process cache (L1); server B has no in-process result cache
   (`CODEWEAVER_CACHE__L1_RESULTS_MB=0`), so the same searches come from Redis (L2).
   Prints p50/p95 of each, of uncached searches, and the L2 round trip as B - A.
2. Moved files: index a project in process, move every file to a new path, re-index;
   prints how many texts reached the model (0 expected).
3. Batching: index >= 10,000 chunks with the Voyage provider against the local
   embeddings server (tests/embedding_server.py, Voyage limits: 1,000 texts and
   120,000 tokens per request); prints requests made and the minimum the limits allow.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench_index import copy_packages, corpus_texts

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from cache_services import EmbeddingServer, RedisServer, free_port
from codeweaver.adapters.redis_cache import RedisCache
from codeweaver.adapters.remote_embedder import estimate_tokens
from codeweaver.config import Settings
from codeweaver.container import build_embedder, build_engine

QUERIES = [
    "retry a failed request",
    "parse command line options",
    "format a help message",
    "open a file for writing",
    "validate user input",
    "print a progress bar",
    "read environment variables",
    "handle keyboard interrupt",
    "convert a string to a path",
    "register a callback",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, values: list[float], extra: str = "") -> None:
    p50, p95 = pct(values, 0.5), pct(values, 0.95)
    print(f"{name:<28}: p50 {p50:.2f} ms  p95 {p95:.2f} ms  (n={len(values)}{extra})")


def serve(home: Path, redis_url: str, log: Path, **env: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    full_env = {
        **os.environ,
        "CODEWEAVER_HOME": str(home),
        "CODEWEAVER_REDIS__URL": redis_url,
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)],
        env=full_env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            sys.exit(log.read_text())
        try:
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            sys.exit("server did not start")
        time.sleep(0.2)


def index_over_http(c: httpx.Client, path: Path) -> None:
    job = c.post("/api/v1/index", json={"path": str(path), "project": "bench"}).json()["job_id"]
    while (state := c.get(f"/api/v1/jobs/{job}").json())["state"] not in ("succeeded", "failed"):
        time.sleep(0.2)
    if state["state"] != "succeeded":
        sys.exit(f"index failed: {state}")


def timed_searches(c: httpx.Client, queries: list[str], n: int) -> list[float]:
    out = []
    for i in range(n):
        body = {"query": queries[i % len(queries)], "project": "bench", "limit": 10}
        t0 = time.perf_counter()
        r = c.post("/api/v1/search", json=body)
        out.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return out


def http_section(work: Path, requests: int) -> None:
    corpus = work / "http-corpus"
    copy_packages(["click"], corpus)
    redis = RedisServer(work / "redis")
    procs = []
    try:
        a_proc, a = serve(work / "a", redis.url, work / "a.log")
        procs.append(a_proc)
        b_proc, b = serve(
            work / "b", redis.url, work / "b.log", CODEWEAVER_CACHE__L1_RESULTS_MB="0"
        )
        procs.append(b_proc)
        with httpx.Client(base_url=a, timeout=60) as ca, httpx.Client(base_url=b, timeout=60) as cb:
            index_over_http(ca, corpus)
            misses = cb.get("/api/v1/cache").json()["stats"]["embedding"]["misses"]
            index_over_http(cb, corpus)
            after = cb.get("/api/v1/cache").json()["stats"]["embedding"]
            print(
                f"server B indexed the same code with {after['misses'] - misses} embedding misses"
            )
            unique = [
                f"{q} {i}" for i, q in enumerate(QUERIES * (requests // 10 // len(QUERIES) + 1))
            ]
            uncached = timed_searches(ca, unique, min(len(unique), max(30, requests // 10)))
            timed_searches(ca, QUERIES, len(QUERIES))  # fill L1 of A and Redis
            l1, l2, floor = [], [], []
            for i in range(requests):  # interleaved, so all see the same machine load
                l1 += timed_searches(ca, QUERIES[i % len(QUERIES) :], 1)
                l2 += timed_searches(cb, QUERIES[i % len(QUERIES) :], 1)
                t0 = time.perf_counter()
                ca.get("/health/live").raise_for_status()
                floor.append((time.perf_counter() - t0) * 1000)
            stats_b = cb.get("/api/v1/cache").json()["stats"]["results"]
        report("HTTP floor: GET /health/live", floor)
        report("uncached search over HTTP", uncached)
        report("cached (L1) over HTTP", l1)
        report("cached (L2 Redis) over HTTP", l2, f", B hits {stats_b['hits']}")
        added = statistics.median(l2) - statistics.median(l1)
        print(f"L2 round trip added (median B - A): {added:.3f} ms")
        direct = RedisCache(redis.url)
        key = next(iter(direct._client.scan_iter(match="cw:res:*")))
        size = len(direct.get(key.decode()) or b"")
        gets = []
        for _ in range(2000):
            t0 = time.perf_counter()
            direct.get(key.decode())
            gets.append((time.perf_counter() - t0) * 1000)
        direct.close()
        median = statistics.median(gets)
        print(f"Redis GET of one cached result ({size} bytes): median {median:.3f} ms")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        redis.stop()


class CountingEmbedder:
    def __init__(self, inner) -> None:
        self.inner = inner
        self.texts = 0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_documents(self, texts):
        self.texts += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


def move_section(work: Path) -> None:
    root = work / "move" / "project"
    copy_packages(["click"], root / "src")
    settings = Settings(home=work / "move-home")
    counting = CountingEmbedder(build_embedder(settings))
    engine = build_engine(settings, embedder=counting)
    first = engine.index(root, "move")
    embedded = counting.texts
    files = [p for p in (root / "src").rglob("*") if p.is_file()]
    for f in files:  # every file to a new path: new folder and new name
        dst = root / "moved" / f.relative_to(root / "src").parent / f"new_{f.name}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        f.rename(dst)
    shutil.rmtree(root / "src")
    t0 = time.perf_counter()
    second = engine.index(root, "move")
    seconds = time.perf_counter() - t0
    engine.close()
    print(
        f"first index: {first.chunks_added} chunks, {embedded} texts embedded; after moving all "
        f"{len(files)} files: {second.files_indexed} files re-indexed, {second.chunks_added} "
        f"chunks, {counting.texts - embedded} texts embedded ({seconds:.1f}s)"
    )


def batching_section(work: Path) -> None:
    corpus = work / "batch-corpus"
    copy_packages(["redis", "pydantic", "rich", "click", "starlette", "httpx"], corpus)
    texts = corpus_texts(corpus)
    server = EmbeddingServer("--max-texts", "1000", "--max-tokens", "120000")
    try:
        settings = Settings(
            home=work / "batch-home",
            embedding={
                "provider": "voyage",
                "base_url": server.url,
                "api_key": "bench",
                "dimensions": 256,
            },
            cache={"enabled": False},
        )
        engine = build_engine(settings)
        t0 = time.perf_counter()
        stats = engine.index(corpus, "batch")
        seconds = time.perf_counter() - t0
        engine.close()
        served = server.stats()
    finally:
        server.stop()
    tokens = sum(estimate_tokens(t) for t in texts)
    minimum = max(math.ceil(len(texts) / 1000), math.ceil(tokens / 120_000))
    over = 100.0 * (served["requests"] - minimum) / minimum
    print(
        f"batching: {stats.chunks_total} chunks ({len(texts)} texts, {tokens} estimated tokens) "
        f"indexed in {seconds:.1f}s with {served['requests']} requests; minimum {minimum}; "
        f"{over:.2f}% over; largest request {max(served['batches'])} texts / "
        f"{max(served['tokens'])} server tokens"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--only", choices=["http", "move", "batch"], default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cw-bench-cache-"))
    try:
        if args.only in (None, "move"):
            move_section(work)
        if args.only in (None, "batch"):
            batching_section(work)
        if args.only in (None, "http"):
            http_section(work, args.requests)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
