"""Do EdgeStore upserts survive a SIGKILL before flush()?

A child process upserts points (without flushing), reports "ready" and sleeps; the parent
kills it with SIGKILL, reopens the folder and counts. The same run on a shard created
with the write-ahead log disabled (which EdgeStore never does) shows what the WAL buys.

    .venv/bin/python bench/edge_durability.py [--points 5000]

Measured with qdrant-edge-py 0.9.0: WAL on (EdgeStore) -> every point back after the
kill; WAL off -> 0 points back.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import qdrant_edge as qe

from codeweaver.adapters.edge_store import EdgeStore
from codeweaver.types import SparseVec, StoredPoint


def points(n: int) -> list[StoredPoint]:
    payload = {"path": "a.py", "start_line": 1, "end_line": 2, "content": "x"}
    return [
        StoredPoint(
            str(uuid.UUID(int=i + 1)),
            [1.0, 0.5, 0.0, float(i % 11)],
            SparseVec((i,), (1.0,)),
            {**payload, "path": f"f{i % 97}.py"},
        )
        for i in range(n)
    ]


def child(path: Path, n: int, wal: bool) -> None:
    if wal:
        store = EdgeStore(path)
        store.ensure(4)
        store.upsert(points(n))
    else:
        cfg = qe.EdgeConfig(
            vectors={"dense": qe.EdgeVectorParams(size=4, distance=qe.Distance.Cosine)},
            wal_enabled=False,
        )
        shard = qe.EdgeShard.create(str(path), cfg)
        for p in points(n):
            shard.update(
                qe.UpdateOperation.upsert_points(
                    [qe.Point(p.id, {"dense": list(p.dense)}, p.payload)]
                )
            )
    print("ready", flush=True)
    time.sleep(600)


def run(n: int, wal: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shard"
        cmd = [sys.executable, __file__, "--child", str(path), "--points", str(n)]
        if not wal:
            cmd.append("--no-wal")
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line != "ready":
                raise SystemExit(f"child failed: {line!r}")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        if wal:
            store = EdgeStore(path)
            found = store.count()
            store.close()
        else:
            shard = qe.EdgeShard.load(str(path))
            found = shard.count(qe.CountRequest(exact=True))
            shard.close()
        return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=5000)
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--no-wal", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.points, wal=not args.no_wal)
        return
    for wal in (True, False):
        found = run(args.points, wal)
        label = "WAL on (EdgeStore)" if wal else "WAL off"
        print(f"{label}: upserted {args.points}, SIGKILL before flush, reopened: {found}")


if __name__ == "__main__":
    main()
