"""Throughput and accuracy of the shipped int8 embedder.

Corpus: ~500 functions taken from the Python sources installed in this environment
(a fixed-seed sample, 4-80 lines each, prefixed with their path and name like
the indexer does). Reports chunks/s at batch sizes 8/16/32 (median and best of 3
runs; the best is the better estimate on a shared machine) and cosine vs the fp32
model built from the same weights.

    python bench/bench_embedder.py [--wheel PATH] [--chunks 500] [--variants]

``--variants`` also rebuilds and compares the quantisation variants.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))

import build_model as bm  # noqa: E402

from codeweaver.adapters.onnx_embedder import OnnxEmbedder  # noqa: E402
from model_source import find_model_source  # noqa: E402

VARIANTS: dict[str, dict[str, object]] = {
    "shipped: per-channel s8, int8 word emb": {},
    "per-channel s8, fp32 word emb": {"int8_word_embeddings": False},
    "per-tensor s8": {"per_channel": False},
    "per-channel s8, reduce_range": {"reduce_range": True},
    "per-channel u8": {"weight_type": "QUInt8"},
}


def _functions(path: Path) -> list[str]:
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    lines = source.splitlines()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
            n = node.end_lineno - node.lineno + 1
            if 4 <= n <= 80:
                body = "\n".join(lines[node.lineno - 1 : node.end_lineno])
                out.append(f"# {path.name} :: {node.name}\n{body}")
    return out


def load_chunks(n: int = 500, seed: int = 7) -> list[str]:
    """A deterministic sample of real functions from the installed Python sources."""
    roots = [Path(sysconfig.get_paths()["purelib"]), Path(sysconfig.get_paths()["stdlib"])]
    files = sorted(p for r in roots for p in r.rglob("*.py") if "test" not in p.as_posix().lower())
    rng = random.Random(seed)
    rng.shuffle(files)
    chunks: list[str] = []
    for path in files:
        chunks.extend(_functions(path)[:3])
        if len(chunks) >= n:
            break
    return chunks[:n]


def throughput(emb: OnnxEmbedder, texts: list[str], runs: int = 3) -> tuple[float, float]:
    """Chunks/s: (median, best) over ``runs`` timed passes after a warm-up."""
    emb.embed_documents(texts[:32])
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        emb.embed_documents(texts)
        times.append(time.perf_counter() - t0)
    return len(texts) / statistics.median(times), len(texts) / min(times)


def _rate(emb: OnnxEmbedder, texts: list[str]) -> str:
    median, best = throughput(emb, texts)
    return f"{median:6.1f} chunks/s (best {best:.1f})"


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _fmt(c: np.ndarray) -> str:
    return f"mean {c.mean():.4f}  p5 {np.percentile(c, 5):.4f}  min {c.min():.4f}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wheel", type=Path, help="source wheel or model folder")
    parser.add_argument("--chunks", type=int, default=500)
    parser.add_argument("--variants", action="store_true")
    args = parser.parse_args()

    texts = load_chunks(args.chunks)
    shipped = OnnxEmbedder()
    shipped.warmup()
    tok = shipped._tokenizer
    lengths = [len(e.ids) for e in tok.encode_batch(texts)]
    print(
        f"{len(texts)} chunks, tokens: median {statistics.median(lengths):.0f}, "
        f"mean {statistics.mean(lengths):.0f}, at max_seq_len {shipped.max_seq_len}: "
        f"{sum(n >= shipped.max_seq_len for n in lengths)}; threads {shipped.threads}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    for bs in (8, 16, 32):
        print(f"int8  batch {bs:2d}: {_rate(OnnxEmbedder(batch_size=bs), texts)}")

    source = args.wheel or find_model_source(Path(tempfile.gettempdir()) / "codeweaver-model-src")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = bm.read_source(source)
        fp32 = work / "fp32.onnx"
        import onnx

        onnx.save(bm.build_fp32(src), str(fp32))
        ref_emb = OnnxEmbedder(fp32, batch_size=16)
        print(f"fp32  batch 16: {_rate(ref_emb, texts)}")
        ref = np.array(ref_emb.embed_documents(texts))
        got = np.array(shipped.embed_documents(texts))
        print(f"int8 vs fp32 cosine: {_fmt(cosines(ref, got))}")
        if args.variants:
            for name, params in VARIANTS.items():
                path = work / "variant.onnx"
                bm.quantize_int8(fp32, path, **params)  # type: ignore[arg-type]
                emb = OnnxEmbedder(path, batch_size=16)
                vec = np.array(emb.embed_documents(texts))
                size = path.stat().st_size / 1e6
                print(f"{name:40s} {size:5.1f} MB  {_rate(emb, texts)}  {_fmt(cosines(ref, vec))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
