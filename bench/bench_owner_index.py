"""Search latency while a bulk index runs in the same process, as it does in the owner.

    python bench/bench_owner_index.py [--n 100000] [--modes inprocess child]

The owner serves every client's searches from threads of the one process that also
writes the index. This builds ``--n`` synthetic points (``bench_store``'s: 384-dim unit
vectors around topic centres, BM25-like sparse vectors, no model) into an ``EdgeStore``
in batches the way an index run does, then calls ``optimize()``, while a second thread
runs hybrid searches (limit 10, prefetch 50) and records each one's latency, counted
from when it was due (one every ``--every-ms``, open loop, so a stall counts for every
search that waited on it). Printed per phase (load, optimize): searches, p50, p95, max. Modes:

* ``inprocess``: ``child_optimize_points=0`` -- ``optimize()`` runs in this process;
* ``child``: the default -- a large shard is optimized as a copy in a child process and
  swapped in (``EdgeStore`` module doc).

Both modes run in one invocation, on the same points and queries.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from bench_store import SPARSE_NNZ, make_dense, make_sparse, payload, queries

from codeweaver.adapters.edge_store import EdgeStore
from codeweaver.types import StoredPoint, StoreQuery


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


class _Searcher(threading.Thread):
    def __init__(self, store: EdgeStore, qs: list, every: float) -> None:
        super().__init__(daemon=True)
        self.store, self.qs, self.every = store, qs, every
        self.samples: list[tuple[float, float]] = []  # (when due, latency in ms)
        self.halt = threading.Event()

    def run(self) -> None:
        # Open loop: a search is due every ``every`` seconds whether or not the last one
        # has answered; its latency counts from when it was due, so a stall counts once
        # for every search that waited on it (as it would for many clients).
        due = time.perf_counter()
        i = 0
        while not self.halt.is_set():
            _, dense, sparse = self.qs[i % len(self.qs)]
            i += 1
            if (wait := due - time.perf_counter()) > 0:
                time.sleep(wait)
            self.store.search(StoreQuery(dense, sparse, 10, prefetch_limit=50))
            took = (time.perf_counter() - due) * 1e3
            self.samples.append((due, took))
            due += self.every


def run(
    mode: str, path: Path, dense: np.ndarray, qs: list, batch: int, every: float
) -> dict[str, object]:
    store = EdgeStore(path, child_optimize_points=0 if mode == "inprocess" else 20_000)
    store.ensure(dense.shape[1])
    searcher = _Searcher(store, qs, every)
    searcher.start()
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    for start in range(0, len(dense), batch):
        rows = dense[start : start + batch].tolist()
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
    t1 = time.perf_counter()
    store.optimize()
    store.flush()
    t2 = time.perf_counter()
    time.sleep(2)
    searcher.halt.set()
    searcher.join()
    count = store.count()
    store.close()
    assert count == len(dense), (count, len(dense))
    samples: dict[str, list[float]] = {"load": [], "optimize": [], "after": []}
    for due, took in searcher.samples:
        if due >= t0:
            samples["load" if due < t1 else "optimize" if due < t2 else "after"].append(took)
    return {"load_s": t1 - t0, "optimize_s": t2 - t1, "samples": samples}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--batch", type=int, default=512, help="points per index batch")
    ap.add_argument("--modes", nargs="+", default=["inprocess", "child"])
    ap.add_argument("--every-ms", type=float, default=50, help="one search due every N ms")
    args = ap.parse_args()
    dense = make_dense(args.n, args.dim, seed=0)
    qs = queries(dense, 200, seed=2)
    tmp = Path(tempfile.mkdtemp(prefix="bench-owner-index-"))
    results = {}
    try:
        for mode in args.modes:
            print(f"{mode}: indexing {args.n:,} points while searching ...", flush=True)
            every = args.every_ms / 1e3
            results[mode] = run(mode, tmp / mode / "shard", dense, qs, args.batch, every)
            shutil.rmtree(tmp / mode)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"\nsearch latency during a bulk index of {args.n:,} points (load avg {load:.1f}):")
    head = ("mode", "phase", "secs", "searches", "p50", "p95", "max")
    print("  {:10s} {:9s} {:>7s} {:>8s} {:>8s} {:>8s} {:>9s}".format(*head))
    for mode, res in results.items():
        samples = res["samples"]
        assert isinstance(samples, dict)
        for phase, secs in (
            ("load", res["load_s"]),
            ("optimize", res["optimize_s"]),
            ("after", 2.0),
        ):
            v = samples.get(phase, [])
            print(
                f"  {mode:10s} {phase:9s} {secs:7.1f} {len(v):8d} {_p(v, 0.5):6.1f}ms "
                f"{_p(v, 0.95):6.1f}ms {max(v, default=float('nan')):7.1f}ms"
            )
        whole = samples.get("load", []) + samples.get("optimize", [])
        print(f"  {mode:10s} load+optimize p95 {_p(whole, 0.95):.1f} ms   (target <= 100)")


if __name__ == "__main__":
    main()
