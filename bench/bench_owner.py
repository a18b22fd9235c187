"""Whole-process CLI times with and without the data directory's owner, and what the
owner's socket adds to a search.

    python bench/bench_owner.py [--runs 15] [--queries 200] [--corpus DIR]

* ``codeweaver --help``, ``codeweaver search`` answered by a running owner, and
  ``codeweaver search`` with no owner (the store opened, the model loaded in-process):
  medians of ``--runs`` whole processes each (stdout piped), like hyperfine.
* Search latency in-process (``Engine.search`` in this process) and through the socket
  (the owner's ``/owner/v1/search`` on one kept-alive connection); what the socket adds
  is the difference of the medians, and, as an upper bound, per request the client's
  wall time minus the search service's own ``took_ms`` (which leaves out the engine's
  bookkeeping around it).

The result cache is off, so every search runs. The corpus (default: the CLI's own
sources) is indexed once into a temporary data directory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codeweaver.cli.state import settings_from
from codeweaver.container import build_engine
from codeweaver.owner.client import connect
from codeweaver.search.service import SearchRequest

QUERIES = [
    "start a background owner",
    "render search results",
    "parse the command line",
    "read a batch file of queries",
    "stop the owner and wait",
    "peer credentials of a socket",
    "progress bar while indexing",
    "version mismatch message",
    "exit code for an error",
    "watch a folder for changes",
    "target_from",
    "OwnerClient",
    "print_json",
    "index_summary",
    "ensure_owner",
]
CLI = str(Path(sys.executable).with_name("codeweaver"))


def _env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CODEWEAVER_HOME": str(home),
        "CODEWEAVER_CACHE__ENABLED": "false",
        "CODEWEAVER_OWNER__IDLE_TIMEOUT_SECONDS": "600",
    }


def _median_ms(args: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        res = subprocess.run([CLI, *args], env=env, capture_output=True, timeout=300)
        times.append(time.perf_counter() - started)
        assert res.returncode == 0, res.stderr.decode()
    return statistics.median(times) * 1e3


def _in_process(home: Path, queries: int) -> list[float]:
    os.environ.update(_env(home))
    engine = build_engine(settings_from(None))
    try:
        engine.search(SearchRequest("warm up"), "corpus")
        took = []
        for i in range(queries):
            started = time.perf_counter()
            engine.search(SearchRequest(QUERIES[i % len(QUERIES)]), "corpus")
            took.append((time.perf_counter() - started) * 1e3)
        return took
    finally:
        engine.close()


def _through_socket(home: Path, queries: int) -> tuple[list[float], list[float]]:
    client = connect(home)
    assert client is not None, "no owner answers"
    walls, added = [], []
    client.call("POST", "/owner/v1/search", {"query": "warm up", "project": "corpus"})
    for i in range(queries):
        body = {"query": QUERIES[i % len(QUERIES)], "project": "corpus", "limit": 10}
        started = time.perf_counter()
        answer = client.call("POST", "/owner/v1/search", body)
        wall = (time.perf_counter() - started) * 1e3
        walls.append(wall)
        added.append(wall - float(answer["took_ms"]))
    client.close()
    return walls, added


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--queries", type=int, default=200)
    default = Path(__file__).resolve().parents[1] / "src" / "codeweaver" / "cli"
    ap.add_argument("--corpus", type=Path, default=default)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = _env(home)
        subprocess.run([CLI, "index", str(args.corpus), "-p", "corpus"], env=env, check=True)
        help_ms = _median_ms(["--help"], env, args.runs)
        q = ["search", "render search results", "-p", "corpus"]
        cold_ms = _median_ms(q, env, max(3, args.runs // 2))
        local = _in_process(home, args.queries)
        subprocess.run([CLI, "daemon", "start"], env=env, check=True, capture_output=True)
        try:
            owner_ms = _median_ms(q, env, args.runs)
            walls, added = _through_socket(home, args.queries)
        finally:
            subprocess.run([CLI, "daemon", "stop"], env=env, capture_output=True)
    load = os.getloadavg()[0]
    print(f"whole processes, median of {args.runs} (load average {load:.1f} on 2 cores):")
    print(f"  codeweaver --help                       {help_ms:8.1f} ms   (target <= 250)")
    print(f"  codeweaver search, owner running        {owner_ms:8.1f} ms   (target <= 150)")
    print(f"  codeweaver search, no owner (in-process){cold_ms:8.1f} ms")
    print(f"search latency over {args.queries} queries (result cache off):")
    for label, values in (("in-process Engine.search", local), ("through the socket", walls)):
        print(f"  {label:32s}p50 {_p(values, 0.5):6.2f} ms  p95 {_p(values, 0.95):6.2f}")
    extra = _p(walls, 0.5) - _p(local, 0.5)
    print(
        f"  added by the socket (p50 through it - p50 in-process) {extra:5.2f} ms   (target <= 1)"
    )
    print(f"  wall - the owner's took_ms, per request   p50 {_p(added, 0.5):5.2f} ms (upper bound)")


if __name__ == "__main__":
    main()
