"""Backup and restore of a 100k-chunk project: time, archive size, and search p95 while a
backup runs.

The project is built directly through the store adapter with synthetic vectors (the
``bench_store`` generator: 384-dim unit vectors around topic centres, BM25-like sparse
vectors, realistic payloads) plus a matching manifest (20 chunks per file) — embedding
100k real chunks would take most of an hour on 2 cores and is not what is measured here.
The shard is optimized (HNSW built) like a finished index run, unless ``--no-optimize``.

Search latency is store-level hybrid queries (dense + sparse, RRF, limit 10) in a closed
loop on an ``EdgeStore`` opened on the live shard, as ``serve`` holds it: first alone,
then while backups run back to back — the way ``serve`` runs them (scheduled or
``POST /api/v1/admin/backups``: a niced child process per backup) and as a separate
``codeweaver backup create`` command — and, for comparison, naively in a thread of the
searching process (one GIL, normal priority). Each way runs with every ``--rates`` value
of ``backup.max_mb_per_second`` (default: the setting's default, then no cap).

    .venv/bin/python bench/bench_backup.py
    .venv/bin/python bench/bench_backup.py --rates 80 40 20 --modes serve cli
    .venv/bin/python bench/bench_backup.py --points 20000 --seconds 10 --no-optimize
    .venv/bin/python bench/bench_backup.py --keep bench/out/backup-home   # keep the project
    .venv/bin/python bench/bench_backup.py --reuse bench/out/backup-home
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from bench_store import SPARSE_NNZ, make_dense, make_sparse, payload

from codeweaver.adapters.edge_store import EdgeStore
from codeweaver.api.backups import create_in_child
from codeweaver.config import Settings
from codeweaver.container import build_backup_service
from codeweaver.index.manifest import FileRecord, Manifest
from codeweaver.index.projects import ProjectRegistry
from codeweaver.types import SparseVec, StoredPoint, StoreQuery

PROJECT = "bench"
CHUNKS_PER_FILE = 20


def build_project(home: Path, points: int, dim: int, optimize: bool) -> dict[str, float]:
    project = ProjectRegistry(home).ensure(PROJECT, home.parent / "code")
    dense = make_dense(points, dim, seed=0)
    rng = np.random.default_rng(1)
    store = EdgeStore(project.shard_path)
    store.ensure(dim)
    t = time.perf_counter()
    for start in range(0, points, 1000):
        rows = dense[start : start + 1000].tolist()
        store.upsert(
            [
                StoredPoint(
                    str(uuid.UUID(int=start + j + 1)),
                    row,
                    make_sparse(rng, SPARSE_NNZ),
                    payload(start + j),
                )
                for j, row in enumerate(rows)
            ]
        )
    upsert_s = time.perf_counter() - t
    t = time.perf_counter()
    if optimize:
        store.optimize()
    optimize_s = time.perf_counter() - t
    store.flush()
    store.close()
    with Manifest(project.manifest_path) as manifest:
        files = points // CHUNKS_PER_FILE
        manifest.record_files(
            FileRecord(f"src/pkg{i // 50}/module_{i}.py", f"{i:064x}", 4000, 0, CHUNKS_PER_FILE)
            for i in range(files)
        )
        manifest.set(model_id="synthetic-384", dim=dim, run_state="complete")
    return {"upsert_s": upsert_s, "optimize_s": optimize_s}


def disk_mb(path: Path) -> float:
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file()) / 2**20


def make_queries(n: int, dim: int) -> list[StoreQuery]:
    rng = np.random.default_rng(7)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    out = []
    for vec in vecs:
        terms = sorted({int(t) for t in rng.integers(0, 2000, 6)})
        sparse = SparseVec(tuple(terms), tuple(1.0 for _ in terms))
        out.append(StoreQuery(dense=vec.tolist(), sparse=sparse, limit=10))
    return out


def latencies(store: EdgeStore, queries: list[StoreQuery], seconds: float, busy) -> list[float]:
    """Closed-loop search latencies (ms) for ``seconds`` of time where ``busy()`` holds."""
    out: list[float] = []
    counted = 0.0
    i = 0
    while counted < seconds:
        t = time.perf_counter()
        store.search(queries[i % len(queries)])
        dt = time.perf_counter() - t
        i += 1
        if busy():
            out.append(dt * 1000)
            counted += dt
        else:
            time.sleep(0.001)
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def measure_backup_restore(settings: Settings) -> dict[str, float]:
    service = build_backup_service(settings)
    t = time.perf_counter()
    made = service.create(verify=False)
    backup_s = time.perf_counter() - t
    t = time.perf_counter()
    check = service.verify(made["backup_id"])
    verify_s = time.perf_counter() - t
    assert check["ok"], check
    live = settings.home / "projects" / PROJECT
    aside = settings.home.parent / "aside"
    shutil.rmtree(aside, ignore_errors=True)
    shutil.copytree(live, aside)  # keep a copy: the benchmark goes on with the live data
    shutil.rmtree(live)
    t = time.perf_counter()
    report = service.restore(made["backup_id"])
    restore_s = time.perf_counter() - t
    assert report["ok"], report["problems"]
    shutil.rmtree(aside)
    return {
        "backup_s": backup_s,
        "verify_s": verify_s,
        "restore_s": restore_s,
        "archive_mb": made["size_mb"],
        "points": made["points"],
        "probes_matched": sum(p["probes_matched"] for p in report["projects"]),
    }


def search_while(
    settings: Settings, store, queries, seconds: float, mode: str, rate: float
) -> dict:
    """Backups back to back, each followed by an equally long pause; searches run the
    whole time and their latencies are split into "a backup is running" and "paused", so
    both halves see the same background load of the (shared) machine."""
    running = threading.Event()
    stop = threading.Event()
    backups = 0
    settings = settings.model_copy(
        update={"backup": settings.backup.model_copy(update={"max_mb_per_second": rate})}
    )
    service = build_backup_service(settings)
    env = {**os.environ, "CODEWEAVER_HOME": str(settings.home)}
    env["CODEWEAVER_BACKUP__DEST"] = str(settings.backup.dest)
    env["CODEWEAVER_BACKUP__MAX_MB_PER_SECOND"] = str(rate)
    seconds_each: list[float] = []
    cli = [sys.executable, "-m", "codeweaver.cli.app", "backup", "create", "--no-verify"]

    def one_backup() -> None:
        if mode == "thread":
            service.create(verify=False)
        elif mode == "serve":
            create_in_child(settings, verify=False)
        else:
            subprocess.run(cli, env=env, check=True, capture_output=True)

    def loop() -> None:
        nonlocal backups
        while not stop.is_set():
            t = time.perf_counter()
            running.set()
            one_backup()
            running.clear()
            seconds_each.append(time.perf_counter() - t)
            backups += 1
            service.prune(keep_days=0, keep_last=1)
            stop.wait(time.perf_counter() - t)

    worker = threading.Thread(target=loop)
    worker.start()
    busy: list[float] = []
    idle: list[float] = []
    spent = {True: 0.0, False: 0.0}
    i = 0
    try:
        while min(spent.values()) < seconds:
            state = running.is_set()
            t = time.perf_counter()
            store.search(queries[i % len(queries)])
            dt = time.perf_counter() - t
            i += 1
            if running.is_set() == state:  # drop queries that straddle a transition
                (busy if state else idle).append(dt * 1000)
                spent[state] += dt
    finally:
        stop.set()
        worker.join()
    return {"busy": busy, "idle": idle, "backups": backups, "backup_s": seconds_each}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--seconds", type=float, default=20.0, help="search time per phase")
    ap.add_argument("--no-optimize", action="store_true")
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--reuse", type=Path)
    ap.add_argument("--modes", nargs="+", default=["serve", "cli", "thread"])
    ap.add_argument(
        "--rates",
        nargs="+",
        type=float,
        default=[Settings().backup.max_mb_per_second, 0.0],
        help="backup.max_mb_per_second values to run each mode with (0: no cap)",
    )
    ap.add_argument("--skip-restore", action="store_true", help="only the p95 phases")
    args = ap.parse_args()

    base = args.reuse or args.keep or Path(tempfile.mkdtemp(prefix="cw-bench-backup-"))
    home = base / "home"
    settings = Settings(home=home, backup={"dest": (base / "vault").as_uri(), "lock_timeout": 5})
    results: dict[str, object] = {"points": args.points, "dim": args.dim}
    if not (home / "projects" / PROJECT / "shard").is_dir():
        print(f"building {args.points} points ...", flush=True)
        results.update(build_project(home, args.points, args.dim, not args.no_optimize))
    results["shard_disk_mb"] = round(disk_mb(home / "projects" / PROJECT / "shard"), 1)
    if not args.skip_restore:
        print("backup / verify / restore (no rate cap) ...", flush=True)
        uncapped = settings.model_copy(
            update={"backup": settings.backup.model_copy(update={"max_mb_per_second": 0.0})}
        )
        results.update(measure_backup_restore(uncapped))

    store = EdgeStore(home / "projects" / PROJECT / "shard")
    queries = make_queries(500, args.dim)
    latencies(store, queries, 2.0, lambda: True)  # warm up
    for rate in args.rates:
        for mode in args.modes:
            print(f"searching while backups run ({mode}, cap {rate:g} MiB/s) ...", flush=True)
            during = search_while(settings, store, queries, args.seconds, mode, rate)
            busy, idle = during["busy"], during["idle"]
            key = f"{mode}@{rate:g}"
            results[f"{key}_p50_ms_paused"] = pct(idle, 50)
            results[f"{key}_p95_ms_paused"] = pct(idle, 95)
            results[f"{key}_p50_ms_backup"] = pct(busy, 50)
            results[f"{key}_p95_ms_backup"] = pct(busy, 95)
            results[f"{key}_p95_ratio"] = pct(busy, 95) / pct(idle, 95)
            results[f"{key}_backups"] = during["backups"]
            results[f"{key}_backup_s_median"] = float(np.median(during["backup_s"]))
            results[f"{key}_queries_backup_paused"] = [len(busy), len(idle)]
    store.close()
    print(
        json.dumps(
            {k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}, indent=2
        )
    )
    if not (args.keep or args.reuse):
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
