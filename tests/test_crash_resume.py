"""kill -9 in the middle of `codeweaver index`, run again: exactly the right points."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import qdrant_edge as qe

CLI = [sys.executable, "-m", "codeweaver.cli.app"]


def make_project(root: Path, files: int = 80) -> None:
    for i in range(files):
        funcs = "\n\n".join(
            f"def handler_{i}_{j}(request):\n"
            f"    '''Handle request kind {j} for module {i}.'''\n"
            f"    value = request.get('k{j}')\n"
            f"    return value or {i * j}\n"
            for j in range(5)
        )
        (root / f"handlers_{i:03d}.py").write_text(funcs)


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEWEAVER_HOME": str(home)}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=600)


def recorded_files(home: Path) -> int:
    db = home / "projects" / "proj" / "manifest.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM files").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def points_by_id(home: Path) -> dict[str, tuple[str, int, int]]:
    shard = qe.EdgeShard.load(str(home / "projects" / "proj" / "shard"))
    try:
        out: dict[str, tuple[str, int, int]] = {}
        offset = None
        while True:
            records, offset = shard.scroll(
                qe.ScrollRequest(offset=offset, limit=1000, with_payload=True)
            )
            for r in records:
                p = r.payload or {}
                out[str(r.id)] = (p["path"], p["start_line"], p["end_line"])
            if offset is None:
                return out
    finally:
        shard.close()


def test_kill_9_mid_index_then_resume(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    make_project(root)
    home = tmp_path / "home"
    env = {**os.environ, "CODEWEAVER_HOME": str(home), "CODEWEAVER_INDEX__BATCH_CHUNKS": "16"}
    proc = subprocess.Popen(
        [*CLI, "index", str(root)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while recorded_files(home) < 15 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = recorded_files(home)
    assert 15 <= partial < 80

    # a file disappears while the indexer is dead, another one changes
    (root / "handlers_079.py").unlink()
    (root / "handlers_000.py").write_text("def only_one():\n    return 1\n")

    res = run(["index", str(root)], home)
    assert res.returncode == 0, res.stderr
    resumed = points_by_id(home)

    clean_home = tmp_path / "clean"
    res = run(["index", str(root)], clean_home)
    assert res.returncode == 0, res.stderr
    clean = points_by_id(clean_home)

    assert len(resumed) == len(clean) == 79 * 5 - 4
    assert resumed == clean  # same ids, same paths and line ranges: nothing extra, nothing lost
