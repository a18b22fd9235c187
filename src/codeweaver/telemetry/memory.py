"""Memory diagnostics: process RSS, tracemalloc's top allocations, cache and index sizes."""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc
from collections.abc import Iterable, Mapping
from typing import Any

from codeweaver.telemetry.metrics import rss_bytes

__all__ = ["MAX_SAMPLE_SECONDS", "MAX_TOP", "memory_report", "top_allocations"]

MAX_TOP = 100
MAX_SAMPLE_SECONDS = 30.0


def top_allocations(top: int, seconds: float) -> dict[str, Any]:
    """The ``top`` source lines holding the most traced memory.

    When tracemalloc is off it is started, left on for ``seconds`` (so allocations made
    meanwhile, by every thread, are traced) and stopped again; when it was already on
    the snapshot is taken at once and tracing stays on.
    """
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
        time.sleep(seconds)
    try:
        snapshot = tracemalloc.take_snapshot()
        traced, peak = tracemalloc.get_traced_memory()
    finally:
        if started_here:
            tracemalloc.stop()
    stats = snapshot.statistics("lineno")[:top]
    return {
        "sampled_seconds": seconds if started_here else None,
        "traced_bytes": traced,
        "traced_peak_bytes": peak,
        "top": [
            {
                "file": s.traceback[0].filename,
                "line": s.traceback[0].lineno,
                "size_bytes": s.size,
                "count": s.count,
            }
            for s in stats
        ],
    }


def _indexes(projects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in projects:
        points = int(p.get("points") or 0)
        dim = int(p.get("dim") or 0)
        out.append(
            {
                "project": p["project"],
                "points": points,
                "dim": dim,
                # float32 dense vectors: the floor of what searching this index maps in
                "dense_vector_bytes": points * dim * 4,
            }
        )
    return out


def memory_report(
    *,
    top: int,
    seconds: float,
    cache_stats: Mapping[str, Mapping[str, int]] | None,
    projects: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return {
        "rss_bytes": rss_bytes(),
        "peak_rss_bytes": int(peak) * scale,
        "tracemalloc": top_allocations(top, seconds),
        "caches": {
            name: {"size_bytes": int(s.get("size_bytes", 0)), "entries": int(s.get("entries", 0))}
            for name, s in sorted((cache_stats or {}).items())
        },
        "indexes": _indexes(projects),
    }
