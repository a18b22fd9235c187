"""Multi-language retrieval quality, and the ablation of the re-ranking signals.

    python bench/eval_quality.py fetch                      # once, as root: corpora → cache
    python bench/eval_quality.py run [--split dev|test] [--languages go,rust]
        [--ablate] [--signals name_boost=0.5,test_penalty=0.3]

Per language: doc comment → function pairs (doc comments blanked in the indexed copy,
line numbers kept; a hit must overlap the function) and identifier pairs (a unique
function name → its definition); plus hand-written questions about CodeWeaver's own
source. Cases are split by file into DEV (for choosing signals) and TEST (for reporting).
Indexes and embeddings persist in the cache dir (default $CW_EVAL_CACHE or
/tmp/cw-eval-corpora), so a second run only searches. Prints R@1, R@10 and MRR@10.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from quality_cases import Case, Definition
from quality_corpora import CORPORA, fetch, prepare, split_of

from codeweaver.config import load_settings
from codeweaver.container import build_embedder, build_engine
from codeweaver.core.embedding_cache import CachingEmbedder
from codeweaver.core.signals import RerankParams
from codeweaver.search.service import FusionParams, SearchRequest

REPO = Path(__file__).resolve().parent.parent

# (question, file under src/codeweaver, the class or function that answers it)
QUESTIONS = [
    (
        "where is the retry policy for remote embedding requests",
        "adapters/http_retry.py",
        "RetryPolicy",
    ),
    ("how long to wait before retrying a failed request", "adapters/http_retry.py", "backoff"),
    (
        "circuit breaker that stops calling a failing provider",
        "adapters/http_retry.py",
        "CircuitBreaker",
    ),
    ("parse the Retry-After header", "adapters/http_retry.py", "_retry_after"),
    ("how are passwords hashed", "auth/passwords.py", "hash_password"),
    ("check a password against the stored hash", "auth/passwords.py", "verify_password"),
    ("reject weak passwords", "auth/passwords.py", "check_password_strength"),
    ("rate limiting of requests per caller", "auth/ratelimit.py", "RateLimiter"),
    (
        "split camelCase and snake_case identifiers into words",
        "core/tokenizer.py",
        "split_identifier",
    ),
    ("which language is a file written in", "core/chunking/languages.py", "detect_language"),
    ("find the files of a project to index, honouring gitignore", "index/discovery.py", "discover"),
    (
        "put the definition of a symbol first for identifier queries",
        "core/ranking.py",
        "definitions_first",
    ),
    ("remove overlapping results from the same file", "core/ranking.py", "dedupe_overlaps"),
    ("restore a backup into a data directory", "backup/restore.py", "restore_backup"),
    ("check that a backup archive is intact", "backup/verify.py", "verify_backup"),
    ("keep a moved file's embeddings reusable", "core/embedding_cache.py", "strip_path_header"),
    ("load settings from environment variables and the config file", "config.py", "load_settings"),
    ("validate the number of results requested", "core/query.py", "validate_limit"),
]


class DiskCache:
    """A sqlite-backed ``Cache``: embeddings survive between runs of this script."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB)")

    def get(self, key: str) -> bytes | None:
        row = self._db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))
        self._db.commit()

    def clear(self, prefix: str = "") -> int:
        return self._db.execute("DELETE FROM kv WHERE k LIKE ?", (prefix + "%",)).rowcount

    def health(self) -> tuple[str, str]:
        return "healthy", "sqlite"


def _hit(case: Case, hits: Sequence[object]) -> int:
    for rank, h in enumerate(hits, 1):
        if h.path == case.path and h.start_line <= case.end and case.start <= h.end_line:  # type: ignore[attr-defined]
            return rank
    return 0


def score(engine, project: str, cases: list[Case], params: FusionParams) -> dict[str, float]:
    ranks = [
        _hit(c, engine.search(SearchRequest(c.query, limit=10), project, params).hits)
        for c in cases
    ]
    n = max(len(cases), 1)
    return {
        "n": len(cases),
        "R@1": sum(r == 1 for r in ranks) / n,
        "R@10": sum(r > 0 for r in ranks) / n,
        "MRR@10": sum(1.0 / r for r in ranks if r) / n,
    }


def identifier_cases(defs: list[Definition]) -> list[Case]:
    counts = Counter(d.name for d in defs)
    unique = [d for d in defs if counts[d.name] == 1 and len(d.name) >= 3]
    random.Random(1).shuffle(unique)
    return [Case(d.name, d.path, d.start, d.end) for d in unique]


def question_cases() -> list[Case]:
    cases = []
    for query, rel, symbol in QUESTIONS:
        tree = ast.parse((REPO / "src/codeweaver" / rel).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == symbol:
                cases.append(Case(query, rel, node.lineno, node.end_lineno or node.lineno))
                break
        else:
            raise SystemExit(f"question target {rel}:{symbol} not found")
    return cases


SIGNALS = {
    "name_boost": 0.5,
    "path_boost": 0.3,
    "test_penalty": 0.3,
    "init_penalty": 0.3,
    "file_decay": 0.8,
    "adaptive_weights": 0.5,
}


def _params(signals: dict[str, float]) -> FusionParams:
    rest = dict(signals)
    adaptive = rest.pop("adaptive_weights", 0.0)
    return FusionParams(rerank=RerankParams(**rest), adaptive_weights=adaptive)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["fetch", "run"])
    ap.add_argument("--cache", default=os.environ.get("CW_EVAL_CACHE", "/tmp/cw-eval-corpora"))
    ap.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    ap.add_argument("--languages", default=",".join(CORPORA))
    ap.add_argument("--ablate", action="store_true", help="each signal alone, then all")
    ap.add_argument("--signals", default="", help="name=value,… applied on top of defaults")
    ap.add_argument("--max-cases", type=int, default=300)
    ap.add_argument("--max-files", type=int, default=0, help="a fixed sample of files (0: all)")
    args = ap.parse_args()
    cache = Path(args.cache)
    if args.command == "fetch":
        fetch(cache / "src", str(Path(sys.executable).parent / "pip"))
        return
    extra = {k: float(v) for k, v in (p.split("=") for p in args.signals.split(",") if p)}
    configs: dict[str, dict[str, float]] = {"baseline": {}}  # fusion only, every signal off
    if args.ablate:
        configs.update({name: {name: val} for name, val in SIGNALS.items()})
        configs["all"] = dict(SIGNALS)
    if extra:
        configs["custom"] = extra
    settings = load_settings(home=cache / "home")
    embedder = CachingEmbedder(build_embedder(settings), DiskCache(cache / "emb.sqlite"), 1e9)
    engine = build_engine(settings, embedder=embedder)
    sets: list[tuple[str, str, list[Case]]] = []
    for lang in args.languages.split(","):
        cases, defs = prepare(
            cache / "src", CORPORA[lang], cache / "corpora" / lang, args.max_files
        )
        t0 = time.perf_counter()
        stats = engine.index(cache / "corpora" / lang, f"eval-{lang}")
        print(
            f"# {lang}: {stats.files_total} files, {stats.chunks_total} chunks "
            f"({time.perf_counter() - t0:.0f}s)",
            flush=True,
        )
        pick = [c for c in cases if args.split in ("all", split_of(c.path))]
        random.Random(0).shuffle(pick)
        idents = [c for c in identifier_cases(defs) if args.split in ("all", split_of(c.path))]
        sets.append((lang, "doc", pick[: args.max_cases]))
        sets.append((lang, "ident", idents[: args.max_cases // 2]))
    engine.index(REPO / "src/codeweaver", "eval-self")
    sets.append(("codeweaver", "questions", question_cases()))
    print("| config | language | set | n | R@1 | R@10 | MRR@10 |")
    print("|---|---|---|---|---|---|---|")
    for name, signals in configs.items():
        params = _params(signals)
        for lang, kind, cases in sets:
            project = "eval-self" if kind == "questions" else f"eval-{lang}"
            m = score(engine, project, cases, params)
            print(
                f"| {name} | {lang} | {kind} | {m['n']} | {m['R@1']:.3f} | "
                f"{m['R@10']:.3f} | {m['MRR@10']:.3f} |",
                flush=True,
            )
    engine.close()


if __name__ == "__main__":
    main()
