"""Discovery outside git: walking a large tree and applying its ignore files.

    python bench/bench_discovery.py [--copies 20] [--rounds 5] [--hostile-chars 32]

Copies this repository's ``src`` and ``tests`` --copies times into a temporary folder
(not a git work tree), with a root ``.gitignore`` in the style of GitHub's Python
template, a nested one per copy, and a few ``index.exclude`` patterns, then times a full
``discover`` (walk mode) and ``ignored_paths`` over every file, --rounds times each.
A last row times one hostile ``.gitignore`` (``*_*_*_*_*_*_*_*q``) against a few names
of --hostile-chars underscores. Prints medians. To compare with another version, run
the same command with ``PYTHONPATH`` pointing at that version's ``src``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import codeweaver.index.discovery as discovery_module
from codeweaver.index.discovery import discover
from codeweaver.index.partial import ignored_paths

REPO = Path(__file__).resolve().parent.parent
ROOT_IGNORE = """\
# Byte-compiled / optimized / DLL files
__pycache__/
*.py[cod]
*$py.class
*.so
.Python
build/
develop-eggs/
dist/
downloads/
eggs/
.eggs/
lib/
lib64/
parts/
sdist/
var/
wheels/
*.egg-info/
.installed.cfg
*.egg
MANIFEST
*.manifest
*.spec
pip-log.txt
pip-delete-this-directory.txt
htmlcov/
.tox/
.nox/
.coverage
.coverage.*
.cache
nosetests.xml
coverage.xml
*.cover
*.py,cover
.hypothesis/
.pytest_cache/
*.mo
*.pot
*.log
local_settings.py
db.sqlite3
instance/
.webassets-cache
.scrapy
docs/_build/
target/
.ipynb_checkpoints
profile_default/
ipython_config.py
.pdm.toml
__pypackages__/
celerybeat-schedule
*.sage.py
.env
.venv
env/
venv/
ENV/
.spyderproject
.ropeproject
/site
.mypy_cache/
.dmypy.json
dmypy.json
.pyre/
.pytype/
cython_debug/
!keep.log
"""
NESTED_IGNORE = "*.tmp\n/scratch/\n**/fixtures/**/*.bin\n!important.tmp\n"
EXCLUDE = ["*.min.js", "vendor/", "**/node_modules/**", "tests/data/**/*.json"]


def build(root: Path, copies: int) -> int:
    for i in range(copies):
        for part in ("src", "tests"):
            shutil.copytree(
                REPO / part,
                root / f"copy{i}" / part,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        (root / f"copy{i}" / ".gitignore").write_text(NESTED_IGNORE)
    (root / ".gitignore").write_text(ROOT_IGNORE)
    return sum(1 for p in root.rglob("*") if p.is_file())


def median_seconds(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--hostile-chars", type=int, default=32)
    args = ap.parse_args()
    print(f"code: {Path(discovery_module.__file__).parent}")
    work = Path(tempfile.mkdtemp(prefix="cw-bench-discovery-"))
    try:
        root = work / "tree"
        total = build(root, args.copies)
        found = discover(root, exclude=EXCLUDE, use_git=False)
        rels = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        print(f"tree: {total} files, {len(found.files)} kept by discovery")
        walk = median_seconds(lambda: discover(root, exclude=EXCLUDE, use_git=False), args.rounds)
        print(f"discover (walk, {total} files): median {walk * 1000:.0f} ms")
        judge = median_seconds(
            lambda: ignored_paths(root, rels, exclude=EXCLUDE, use_git=False), args.rounds
        )
        print(f"ignored_paths ({len(rels)} paths): median {judge * 1000:.0f} ms")
        hostile = work / "hostile"
        hostile.mkdir()
        (hostile / ".gitignore").write_text("*_*_*_*_*_*_*_*q\n")
        for i in range(3):
            (hostile / ("_" * args.hostile_chars + f"{i}.py")).write_text("x = 1\n")
        bad = median_seconds(lambda: discover(hostile, use_git=False), args.rounds)
        print(
            f"discover, hostile .gitignore ({args.hostile_chars}-character names): "
            f"median {bad * 1000:.1f} ms"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
