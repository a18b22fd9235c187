"""In-process search latency at 100,000 chunks, query embedding included.

    python bench/bench_search.py [--points 100000] [--real 2000] [--queries 200]

Real code chunks (from installed packages) are embedded with the default model, then
scaled up synthetically to --points by copying them with small noise on the dense vector
and new paths (so the store holds realistic vector and term distributions). The store is
the embedded Qdrant Edge shard, optimised as after a bulk index. Each query goes through
the full SearchService: parse, embed, BM25 encode, hybrid prefetch + RRF, definition
lookup for identifier queries, de-duplication.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import resource
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from codeweaver.adapters.edge_store import EdgeStore
from codeweaver.config import load_settings
from codeweaver.container import build_embedder, chunk_options
from codeweaver.core.bm25 import Bm25Encoder
from codeweaver.core.chunking import chunk_file
from codeweaver.index.pipeline import chunk_payload, embed_text
from codeweaver.search.service import FusionParams, SearchRequest, SearchService
from codeweaver.types import Chunk, StoredPoint

NL_QUERIES = [
    "render a table with borders",
    "parse command line options",
    "read configuration file",
    "print progress bar to the terminal",
    "wrap text to a given width",
    "convert color to rgb",
    "handle keyboard interrupt",
    "format a traceback",
    "measure the width of text",
    "validate the value of a parameter",
    "prompt the user for confirmation",
    "split a string into lines",
    "escape markup in text",
    "load data from json",
]


def real_chunks(packages: list[str], limit: int) -> list[Chunk]:
    opts = chunk_options(load_settings())
    chunks: list[Chunk] = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        assert spec and spec.submodule_search_locations
        base = Path(next(iter(spec.submodule_search_locations)))
        for f in sorted(base.rglob("*.py")):
            rel = f"{name}/{f.relative_to(base).as_posix()}"
            chunks.extend(chunk_file(rel, f.read_text(encoding="utf-8"), options=opts))
    random.Random(1).shuffle(chunks)
    return chunks[:limit]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--real", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--packages", default="rich,click,typer")
    args = ap.parse_args()

    settings = load_settings()
    embedder = build_embedder(settings)
    sparse = Bm25Encoder()
    chunks = real_chunks(args.packages.split(","), args.real)
    t0 = time.perf_counter()
    texts = [embed_text(c) for c in chunks]
    dense = np.array(embedder.embed_documents(texts), dtype=np.float32)
    print(f"embedded {len(chunks)} real chunks in {time.perf_counter() - t0:.1f}s")
    sparse_vecs = [sparse.encode_document(t) for t in texts]

    rng = np.random.default_rng(0)
    work = Path(tempfile.mkdtemp(prefix="cw-bench-search-"))
    store = EdgeStore(work / "shard")
    store.ensure(embedder.dim)
    paths: list[str] = []
    t0 = time.perf_counter()
    batch: list[StoredPoint] = []
    for i in range(args.points):
        j = i % len(chunks)
        copy = i // len(chunks)
        vec = dense[j] if copy == 0 else dense[j] + rng.normal(0, 0.02, embedder.dim)
        vec = vec / np.linalg.norm(vec)
        payload = chunk_payload(chunks[j])
        if copy:
            payload["path"] = f"copy{copy}/{payload['path']}"
        paths.append(payload["path"])
        batch.append(StoredPoint(str(uuid.UUID(int=i + 1)), vec.tolist(), sparse_vecs[j], payload))
        if len(batch) == 1000:
            store.upsert(batch)
            batch = []
    if batch:
        store.upsert(batch)
    upsert_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.optimize()
    print(
        f"stored {store.count()} points: upsert {upsert_s:.1f}s, optimize "
        f"{time.perf_counter() - t0:.1f}s"
    )

    s = settings.search
    service = SearchService(
        embedder,
        sparse,
        FusionParams(
            prefetch_limit=s.prefetch_limit,
            rrf_k=s.rrf_k,
            dense_weight=s.dense_weight,
            sparse_weight=s.sparse_weight,
        ),
    )
    unique_paths = sorted(set(paths))
    idents = [c.name for c in chunks if c.name and c.kind in ("function", "method")]
    rnd = random.Random(2)
    queries = [
        rnd.choice(NL_QUERIES) if k % 2 == 0 else rnd.choice(idents) for k in range(args.queries)
    ]
    for q in queries[:10]:  # warm up
        service.search(store, SearchRequest(q), lambda: unique_paths)
    for label, lang in (("no filter", None), ("language=python", "python")):
        took: dict[str, list[float]] = {"all": [], "nl": [], "identifier": []}
        for k, q in enumerate(queries):
            t = time.perf_counter()
            service.search(store, SearchRequest(q, language=lang), lambda: unique_paths)
            ms = (time.perf_counter() - t) * 1000
            took["all"].append(ms)
            took["nl" if k % 2 == 0 else "identifier"].append(ms)
        for kind, vals in took.items():
            print(
                f"{label:16s} {kind:10s} n={len(vals):3d} p50={statistics.median(vals):6.2f} ms "
                f"p95={percentile(vals, 95):6.2f} ms"
            )
    t = time.perf_counter()
    for q in NL_QUERIES:
        embedder.embed_query(q)
    print(f"query embedding alone: {(time.perf_counter() - t) * 1000 / len(NL_QUERIES):.2f} ms")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MiB")
    store.close()


if __name__ == "__main__":
    main()
