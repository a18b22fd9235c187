"""Chunking throughput over the Python sources of an installed package.

Usage: ``python bench/bench_chunking.py [package ...]`` (default: ``rich``). Prints
MB/s and chunks/s of :func:`codeweaver.core.chunking.chunk_file`, after one warm-up pass.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from codeweaver.core.chunking import chunk_file


def _sources(package: str) -> list[tuple[str, str]]:
    module = importlib.import_module(package)
    root = Path(module.__file__ or "").parent
    files = []
    for path in sorted(root.rglob("*.py")):
        files.append((path.relative_to(root.parent).as_posix(), path.read_text("utf-8", "replace")))
    return files


def main(packages: list[str]) -> None:
    files = [item for package in packages for item in _sources(package)]
    size = sum(len(text.encode("utf-8")) for _, text in files)
    for path, text in files:
        chunk_file(path, text)
    best = float("inf")
    chunks = 0
    for _ in range(3):
        started = time.perf_counter()
        chunks = sum(len(chunk_file(path, text)) for path, text in files)
        best = min(best, time.perf_counter() - started)
    print(f"packages: {', '.join(packages)}")
    print(f"files: {len(files)}  source: {size / 1e6:.2f} MB  chunks: {chunks}")
    print(f"time: {best:.3f} s")
    print(f"throughput: {size / 1e6 / best:.2f} MB/s  {chunks / best:.0f} chunks/s")


if __name__ == "__main__":
    main(sys.argv[1:] or ["rich"])
