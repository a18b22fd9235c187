"""HTTP search latency and throughput of `codeweaver serve` on a 100k-chunk project.

    python bench/bench_http.py [--points 100000] [--clients 32] [--seconds 60]

Builds the project like bench_search.py (real chunks embedded with the default model,
scaled up with noisy copies), starts `codeweaver serve` (one uvicorn worker) on a free
loopback port, then measures (1) one client, 200 sequential searches, and (2) --clients
concurrent clients for --seconds on loopback, closed loop (saturation throughput) and
open loop at each --rates offered load (latency from the scheduled send time).
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from bench_search import NL_QUERIES, real_chunks
from loadgen import run_load

from codeweaver.adapters.edge_store import EdgeStore
from codeweaver.config import load_settings
from codeweaver.container import build_embedder
from codeweaver.core.bm25 import Bm25Encoder
from codeweaver.index.manifest import Manifest
from codeweaver.index.pipeline import chunk_payload, embed_text
from codeweaver.index.projects import ProjectRegistry
from codeweaver.types import StoredPoint


def build_project(home: Path, points: int, real: int) -> list[str]:
    embedder = build_embedder(load_settings())
    sparse = Bm25Encoder()
    chunks = real_chunks(["rich", "click", "typer"], real)
    texts = [embed_text(c) for c in chunks]
    dense = np.array(embedder.embed_documents(texts), dtype=np.float32)
    svecs = [sparse.encode_document(t) for t in texts]
    root = home.parent / "bench-root"
    root.mkdir(exist_ok=True)
    project = ProjectRegistry(home).ensure("bench", root)
    store = EdgeStore(project.shard_path)
    store.ensure(embedder.dim)
    rng = np.random.default_rng(0)
    batch: list[StoredPoint] = []
    for i in range(points):
        j, copy = i % len(chunks), i // len(chunks)
        vec = dense[j] if copy == 0 else dense[j] + rng.normal(0, 0.02, embedder.dim)
        payload = chunk_payload(chunks[j])
        if copy:
            payload["path"] = f"copy{copy}/{payload['path']}"
        vec = vec / np.linalg.norm(vec)
        batch.append(StoredPoint(str(uuid.UUID(int=i + 1)), vec.tolist(), svecs[j], payload))
        if len(batch) == 1000:
            store.upsert(batch)
            batch = []
    if batch:
        store.upsert(batch)
    store.optimize()
    store.close()
    with Manifest(project.manifest_path) as m:
        m.set(model_id=embedder.model_id, dim=embedder.dim, run_state="complete")
    return [c.name for c in chunks if c.name and c.kind in ("function", "method")]


def project_identifiers(home: Path, points: int, real: int) -> list[str]:
    """Build the project once per home; later runs reuse it (the identifiers are cached)."""
    names = home / "bench-identifiers.txt"
    if names.exists():
        return names.read_text().split()
    idents = build_project(home, points, real)
    names.write_text("\n".join(idents))
    return idents


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--real", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument(
        "--rates",
        type=float,
        nargs="*",
        default=[200.0],
        help="open-loop offered rates (req/s in total over all clients)",
    )
    ap.add_argument("--home", type=Path, help="reuse (or keep) the built project in this folder")
    ap.add_argument("--build-only", action="store_true", help="build the project, then stop")
    args = ap.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="cw-bench-http-")) / "home"
    idents = project_identifiers(home, args.points, args.real)
    if args.build_only:
        return
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CODEWEAVER_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                sys.exit("server did not become ready")
            time.sleep(0.2)
        rnd = random.Random(3)
        queries = [rnd.choice(NL_QUERIES) if k % 2 == 0 else rnd.choice(idents) for k in range(200)]
        with httpx.Client(base_url=base, timeout=10) as http:
            for q in queries[:10]:
                http.post("/api/v1/search", json={"query": q})
            lat = []
            for q in queries:
                t = time.perf_counter()
                r = http.post("/api/v1/search", json={"query": q})
                lat.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
        print(
            f"one client, {len(lat)} searches: p50 {statistics.median(lat):.1f} ms, "
            f"p95 {pct(lat, 95):.1f} ms"
        )
        bodies: list[dict[str, object]] = [{"query": q} for q in queries]
        closed = run_load(
            base, "/api/v1/search", bodies, clients=args.clients, seconds=args.seconds
        )
        print(f"{args.clients} clients, closed loop, {args.seconds:.0f}s: {closed.summary()}")
        for rate in args.rates:
            opened = run_load(
                base,
                "/api/v1/search",
                bodies,
                clients=args.clients,
                seconds=args.seconds,
                rate=rate,
            )
            print(
                f"{args.clients} clients, open loop at {rate:.0f} req/s offered, "
                f"{args.seconds:.0f}s: {opened.summary()}"
            )
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
