"""Retrieval quality on docstring → function pairs of a real third-party codebase.

The package's source is copied, every function/method docstring is blanked in the copy
(line numbers kept), the copy is indexed, and each docstring's first sentence is used as
a query. A hit is a result in the function's file whose line range overlaps the function.

    python bench/eval_retrieval.py [--package rich] [--variants all] [--max-queries 600]

Prints R@1, R@10 and MRR@10 for BM25-only, dense-only and hybrid, for each variant of
chunk context (path / container / signature) and fusion weights. The standard library is
deliberately not used (held out for independent checks).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from quality_cases import Case, first_sentence

from codeweaver.config import load_settings
from codeweaver.container import build_embedder, build_engine
from codeweaver.search.service import FusionParams, SearchRequest


def build_cases(src: Path, dst: Path) -> list[Case]:
    """Copy ``src`` to ``dst`` with docstrings blanked; return one case per documented def."""
    cases: list[Case] = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            doc = ast.get_docstring(node)
            body0 = node.body[0] if node.body else None
            if not doc or not isinstance(body0, ast.Expr) or body0.end_lineno is None:
                continue
            query = first_sentence(doc)
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if len(query.split()) >= 4:
                cases.append(Case(query, rel, start, node.end_lineno or node.lineno))
            a, b = body0.lineno - 1, body0.end_lineno - 1
            indent = re.match(r"\s*", lines[a]).group()  # type: ignore[union-attr]
            lines[a] = indent + '""'
            for i in range(a + 1, b + 1):
                lines[i] = ""
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines), encoding="utf-8")
    return cases


def score(engine, project: str, cases: list[Case], params: FusionParams) -> dict[str, float]:
    r1 = r10 = mrr = 0.0
    took: list[float] = []
    for case in cases:
        res = engine.search(SearchRequest(case.query, limit=10), project, params)
        took.append(res.took_ms)
        for rank, hit in enumerate(res.hits, 1):
            if hit.path == case.path and hit.start_line <= case.end and case.start <= hit.end_line:
                r1 += rank == 1
                r10 += 1
                mrr += 1.0 / rank
                break
    n = len(cases)
    return {"R@1": r1 / n, "R@10": r10 / n, "MRR@10": mrr / n, "p50_ms": statistics.median(took)}


MODES = {
    "bm25": {"use_dense": False},
    "dense": {"use_sparse": False},
    "hybrid": {},
}

CONTEXT_VARIANTS = {
    "full": {},
    "no_path": {"context_path": False},
    "no_container": {"context_container": False},
    "no_signature": {"context_signature": False},
    "none": {"context_path": False, "context_container": False, "context_signature": False},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--package", default="rich")
    ap.add_argument("--variants", default="full", help="comma list or 'all'")
    ap.add_argument("--weights", default="1:1", help="dense:sparse RRF weight pairs, comma list")
    ap.add_argument("--rrf-k", default="60", help="comma list of RRF k values")
    ap.add_argument("--max-queries", type=int, default=600)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    spec = importlib.util.find_spec(args.package)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"package {args.package!r} is not installed")
    src = Path(next(iter(spec.submodule_search_locations)))
    variants = list(CONTEXT_VARIANTS) if args.variants == "all" else args.variants.split(",")
    work = Path(tempfile.mkdtemp(prefix="cw-eval-"))
    try:
        corpus = work / args.package
        cases = build_cases(src, corpus)
        random.Random(0).shuffle(cases)
        cases = cases[: args.max_queries]
        print(f"# {args.package}: {len(cases)} queries", flush=True)
        embedder = build_embedder(load_settings(home=work / "home"))
        rows = []
        for variant in variants:
            chunking = CONTEXT_VARIANTS[variant]
            settings = load_settings(home=work / f"home-{variant}", chunking=chunking)
            engine = build_engine(settings, embedder=embedder)
            t0 = time.perf_counter()
            stats = engine.index(corpus, "eval")
            print(
                f"# variant {variant}: {stats.chunks_total} chunks indexed in "
                f"{time.perf_counter() - t0:.1f}s",
                flush=True,
            )
            for k in args.rrf_k.split(","):
                for pair in args.weights.split(","):
                    dw, sw = (float(x) for x in pair.split(":"))
                    for mode, flags in MODES.items():
                        if mode != "hybrid" and (
                            pair != args.weights.split(",")[0] or k != args.rrf_k.split(",")[0]
                        ):
                            continue
                        params = FusionParams(
                            rrf_k=int(k),
                            dense_weight=dw,
                            sparse_weight=sw,
                            definitions_first=False,
                            **flags,
                        )
                        m = score(engine, "eval", cases, params)
                        row = {
                            "variant": variant,
                            "mode": mode,
                            "rrf_k": int(k),
                            "weights": pair,
                            **{k2: round(v, 4) for k2, v in m.items()},
                        }
                        rows.append(row)
                        print(
                            f"{variant:13s} {mode:7s} k={k:>3s} w={pair:7s} "
                            f"R@1={m['R@1']:.3f} R@10={m['R@10']:.3f} "
                            f"MRR@10={m['MRR@10']:.3f} p50={m['p50_ms']:.1f}ms",
                            flush=True,
                        )
            engine.close()
        if args.json:
            print(json.dumps(rows))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
