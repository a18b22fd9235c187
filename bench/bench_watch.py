"""Watch mode: time from saving a file to the edit being searchable.

    python bench/bench_watch.py [--packages rich,typer,click] [--edits 20] [--debounce-ms 300]

Copies installed packages as a project, indexes it with the real default embedder and
store, starts a ``Watcher`` (default debounce) and then, --edits times, appends a
function with a fresh identifier to one of the files (alternating plain writes and
atomic temp-file + rename saves) and polls search every 10 ms until a hit shows it.
Nothing else runs in the process meanwhile. Prints median and p95 save→searchable
latency and the share of it spent inside the re-index.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_index import copy_packages

from codeweaver.config import load_settings
from codeweaver.container import build_engine
from codeweaver.search.service import SearchRequest
from codeweaver.workers.watch import WatchBatch, Watcher


def save(path: Path, text: str, atomic: bool) -> None:
    if atomic:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    else:
        path.write_text(text)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", default="rich,typer,click")
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument("--debounce-ms", type=int, default=300)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cw-bench-watch-"))
    try:
        root = work / "project"
        copy_packages(args.packages.split(","), root)
        engine = build_engine(load_settings(home=work / "home"))
        stats = engine.index(root, "bench")
        print(
            f"project: {stats.files_total} files, {stats.chunks_total} chunks, "
            f"indexed in {stats.seconds:.1f}s"
        )
        batches: list[WatchBatch] = []
        watcher = Watcher(
            engine, root, "bench", debounce_ms=args.debounce_ms, on_batch=batches.append
        )
        watcher.start()
        if not watcher.ready.wait(120):
            sys.exit("watcher did not start")
        targets = sorted(root.rglob("*.py"))
        latencies: list[float] = []
        for i in range(args.edits):
            path = targets[(i * 37) % len(targets)]
            ident = f"watch_bench_marker_{i}_{os.getpid()}"
            body = path.read_text(encoding="utf-8")
            body += f"\n\ndef {ident}(value):\n    return value * {i + 2}\n"
            t0 = time.perf_counter()
            save(path, body, atomic=i % 2 == 1)
            while True:
                hits = engine.search(SearchRequest(ident, limit=5), "bench").hits
                if any(ident in h.snippet for h in hits):
                    break
                if time.perf_counter() - t0 > 30:
                    sys.exit(f"edit {i} not searchable after 30 s")
                time.sleep(0.01)
            latencies.append(time.perf_counter() - t0)
            print(
                f"edit {i + 1:2}: {latencies[-1] * 1000:6.0f} ms "
                f"({'atomic' if i % 2 else 'plain'} save, {path.relative_to(root)})",
                flush=True,
            )
            time.sleep(0.5)  # idle between edits
        watcher.stop()
        engine.close()
        index_secs = [b.seconds for b in batches if not b.full]
        ms = [v * 1000 for v in latencies]
        print(
            f"save -> searchable, {len(ms)} edits, debounce {args.debounce_ms} ms: "
            f"median {statistics.median(ms):.0f} ms, p95 {p95(ms):.0f} ms, max {max(ms):.0f} ms"
        )
        print(
            f"re-index time per batch: median {statistics.median(index_secs) * 1000:.0f} ms "
            f"over {len(index_secs)} batches"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
