"""Throughput and peak memory of ``codeweaver logs analyze`` on generated JSON logs.

Writes logs in the server's JSON line format (access, search, audit, warnings, errors,
a few plain-text lines) of two sizes, runs the real command on each in a fresh process
and prints MB/min and peak RSS: flat memory means the same RSS for both sizes.

    PYTHONPATH=src .venv/bin/python bench/bench_logs.py [--mb 200] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def make_lines(rng: random.Random, start: datetime, n: int) -> list[str]:
    out = []
    for i in range(n):
        stamp = (start + timedelta(milliseconds=i * 7)).isoformat().replace("+00:00", "Z")
        base = {
            "timestamp": stamp,
            "request_id": f"{rng.getrandbits(64):016x}",
            "tenant_id": rng.choice(["default", "acme", "globex"]),
            "user": "svc",
        }
        roll = rng.random()
        if roll < 0.55:
            rec = {
                "level": "INFO",
                "logger": "codeweaver.access",
                "message": "request",
                "method": "POST",
                "route": "/api/v1/search",
                "status": rng.choice([200] * 97 + [500, 401, 422]),
                "duration_ms": round(rng.lognormvariate(3.5, 1.0), 3),
            }
        elif roll < 0.90:
            rec = {
                "level": "INFO",
                "logger": "codeweaver.search",
                "message": "search",
                "query_type": rng.choice(["identifier", "natural_language"]),
                "result_count": rng.randint(0, 20),
                "duration_ms": round(rng.lognormvariate(3.0, 1.0), 3),
                "project": "core",
            }
        elif roll < 0.95:
            rec = {
                "level": "INFO",
                "logger": "codeweaver.audit",
                "message": "audit",
                "event": rng.choice(["auth.login.success", "auth.login.failure", "authz.denied"]),
            }
        elif roll < 0.98:
            rec = {
                "level": "WARNING",
                "logger": "codeweaver.search",
                "message": "slow search",
                "duration_ms": 1500.0,
            }
        elif roll < 0.995:
            rec = {
                "level": "ERROR",
                "logger": "codeweaver.api",
                "message": "store call failed",
                "component": "vector_store",
                "error_type": "StoreError",
            }
        else:
            out.append(
                f"{stamp[:19].replace('T', ' ')},000 ERROR codeweaver.index: "
                "IndexingError: cannot parse"
            )
            continue
        out.append(json.dumps({**base, **rec}))
    return out


def write_log(path: Path, megabytes: int) -> int:
    rng = random.Random(1)
    start = datetime.now(UTC) - timedelta(hours=2)
    block = "\n".join(make_lines(rng, start, 20_000)) + "\n"
    data = block.encode()
    target = megabytes * 1024 * 1024
    written = 0
    with path.open("wb") as fh:
        while written < target:
            fh.write(data)
            written += len(data)
    return written


def run(path: Path) -> tuple[float, float, dict]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "codeweaver.cli.app", "logs", "analyze", str(path), "--json"],
        capture_output=True,
        check=True,
        env=os.environ,
    )
    seconds = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kib < before:  # pragma: no cover - ru_maxrss is a max over children
        peak_kib = before
    return seconds, peak_kib / 1024, json.loads(proc.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(dir=args.dir, prefix="cw-logs-"))
    try:
        results = []
        for mb in (args.mb // 4, args.mb):
            path = folder / f"app-{mb}.log"
            size = write_log(path, mb)
            seconds, rss, data = run(path)
            results.append((mb, size, seconds, rss))
            print(
                f"{size / 1e6:8.1f} MB  {data['lines']:>9} lines  {seconds:6.2f} s  "
                f"{size / 1e6 / seconds * 60:7.0f} MB/min  peak RSS (max over runs so far) "
                f"{rss:6.1f} MiB  errors={data['errors']} requests={data['requests']}"
            )
            path.unlink()
        (_, s1, _t1, r1), (_, s2, t2, r2) = results
        print(
            f"throughput at {args.mb} MB: {s2 / 1e6 / t2 * 60:.0f} MB/min (target >= 100); "
            f"peak RSS {r1:.1f} MiB at {s1 / 1e6:.0f} MB vs {r2:.1f} MiB at {s2 / 1e6:.0f} MB"
        )
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
