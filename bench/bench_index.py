"""End-to-end indexing throughput vs the embedder alone, peak RSS, unchanged re-index.

    python bench/bench_index.py [--packages rich,typer,click] [--rounds 3]

1. Builds a corpus by copying installed third-party packages (real code).
2. Embedder alone: chunks the corpus and embeds exactly the texts the pipeline embeds,
   in the pipeline's batch size, in-process (median of --rounds).
3. End to end: ``codeweaver index`` in a child process with a fresh data dir (median of
   --rounds); chunks/s = chunks / wall time of the whole command, process start and model
   load included. Peak RSS of that child from ``wait4``.
4. Unchanged re-index of the same corpus (and of a 300-file subset), process start included.
Rounds interleave the two measurements so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codeweaver.config import load_settings
from codeweaver.container import build_embedder, chunk_options
from codeweaver.core.chunking import chunk_file
from codeweaver.index.discovery import discover
from codeweaver.index.pipeline import embed_text

CLI = [sys.executable, "-m", "codeweaver.cli.app"]


def copy_packages(names: list[str], dst: Path) -> None:
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            sys.exit(f"package {name!r} is not installed")
        src = Path(next(iter(spec.submodule_search_locations)))
        shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("__pycache__", "*.so"))


def corpus_texts(root: Path) -> list[str]:
    settings = load_settings()
    opts = chunk_options(settings)
    texts: list[str] = []
    for f in discover(root, use_git=False).files:
        try:
            text = f.abs_path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        texts.extend(embed_text(c) for c in chunk_file(f.path, text, options=opts))
    return texts


def embedder_alone(texts: list[str], batch: int) -> float:
    emb = build_embedder(load_settings())
    emb.embed_documents(texts[:8])  # load the model outside the timing
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        emb.embed_documents(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - t0)


def run_cli(args: list[str], home: Path) -> tuple[float, int, str]:
    """Wall seconds, peak RSS bytes and stdout of one CLI run."""
    env = {**os.environ, "CODEWEAVER_HOME": str(home)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([*CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"index failed: {err or out}")
    return wall, usage.ru_maxrss * 1024, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", default="rich,typer,click,pydantic")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    batch = load_settings().index.batch_chunks
    work = Path(tempfile.mkdtemp(prefix="cw-bench-index-"))
    try:
        corpus = work / "corpus"
        copy_packages(args.packages.split(","), corpus)
        texts = corpus_texts(corpus)
        files = len(discover(corpus, use_git=False).files)
        print(f"corpus: {files} files, {len(texts)} chunks ({args.packages})")
        alone: list[float] = []
        e2e: list[float] = []
        inrun: list[float] = []
        rss: list[int] = []
        for r in range(args.rounds):
            alone.append(embedder_alone(texts, batch))
            home = work / f"home{r}"
            wall, peak, out = run_cli(["index", str(corpus), "--project", "bench", "--json"], home)
            stats = json.loads(out)
            e2e.append(stats["chunks_added"] / wall)
            inrun.append(stats["chunks_added"] / stats["seconds"])
            rss.append(peak)
            print(
                f"round {r + 1}: embedder alone {alone[-1]:.1f} chunks/s, "
                f"end to end {e2e[-1]:.1f} chunks/s ({wall:.1f}s), peak RSS {peak / 2**20:.0f} MiB",
                flush=True,
            )
        ratio = statistics.median(e / a for e, a in zip(e2e, alone, strict=True))
        print(f"median embedder alone : {statistics.median(alone):.1f} chunks/s")
        print(f"median end to end     : {statistics.median(e2e):.1f} chunks/s (whole command)")
        print(f"median indexing run   : {statistics.median(inrun):.1f} chunks/s (excl. start-up)")
        print(f"median ratio e2e/alone: {ratio:.3f}")
        print(f"peak RSS (max)        : {max(rss) / 2**20:.0f} MiB")
        reindex = [
            run_cli(["index", str(corpus), "--project", "bench"], work / "home0")[0]
            for _ in range(args.rounds)
        ]
        print(f"unchanged re-index ({files} files): median {statistics.median(reindex):.2f}s")
        subset = work / "subset"
        for i, f in enumerate(sorted(corpus.rglob("*.py"))[:300]):
            dst = subset / f.relative_to(corpus)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dst)
            _ = i
        run_cli(["index", str(subset), "--project", "subset"], work / "home-sub")
        sub = [
            run_cli(["index", str(subset), "--project", "subset"], work / "home-sub")[0]
            for _ in range(args.rounds)
        ]
        print(f"unchanged re-index (300 files): median {statistics.median(sub):.2f}s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
