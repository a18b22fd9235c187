"""A large Edge shard is optimized in a child process and swapped in; crashes of the
child or of the process that owns the shard at any point leave a complete shard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from codeweaver.adapters.edge_store import EdgeStore, generation_paths
from codeweaver.errors import StoreError
from codeweaver.types import SparseVec, StoredPoint, StoreQuery

DIM = 8
N = 400


def _points(n: int = N) -> list[StoredPoint]:
    out = []
    for i in range(n):
        dense = [float((i * (k + 3)) % 17 + 1) for k in range(DIM)]
        sparse = SparseVec((i % 50, 50 + i % 7), (1.0, 0.5))
        out.append(StoredPoint(str(uuid.UUID(int=i + 1)), dense, sparse, _payload(i)))
    return out


def _payload(i: int) -> dict[str, object]:
    return {"path": f"f{i}.py", "start_line": 1, "end_line": 2, "content": f"x = {i}"}


def _filled(path: Path, **kw: int) -> EdgeStore:
    store = EdgeStore(path, **kw)
    store.ensure(DIM)
    store.upsert(_points())
    return store


def _query() -> StoreQuery:
    return StoreQuery([1.0] * DIM, SparseVec((3,), (1.0,)), 5)


def _leftovers(path: Path) -> list[Path]:
    return [p for p in generation_paths(path) if p.exists()]


def _optimizer_children(parent: int) -> list[psutil.Process]:
    try:
        kids = psutil.Process(parent).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [k for k in kids if "codeweaver.adapters.edge_optimize" in " ".join(k.cmdline())]


def test_large_shard_is_optimized_in_a_child_and_swapped_in(tmp_path: Path) -> None:
    path = tmp_path / "shard"
    store = _filled(path, child_optimize_points=N)
    before = store.search(_query())
    inode = path.stat().st_ino
    store.optimize()
    assert path.stat().st_ino != inode  # the optimized copy now serves
    assert _leftovers(path) == []
    assert store.count() == N
    assert [round(h.score, 4) for h in store.search(_query())] == [
        round(h.score, 4) for h in before
    ]
    store.upsert(_points(3))  # the swapped-in shard takes writes
    store.close()
    reopened = EdgeStore(path)
    assert reopened.count() == N
    reopened.close()


def test_small_shard_is_optimized_in_process(tmp_path: Path) -> None:
    path = tmp_path / "shard"
    store = _filled(path, child_optimize_points=N + 1)
    inode = path.stat().st_ino
    store.optimize()
    assert path.stat().st_ino == inode
    store.close()


def test_killed_child_leaves_the_served_shard_and_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "shard"
    store = _filled(path, child_optimize_points=1)
    errors: list[BaseException] = []

    def optimize() -> None:
        try:
            store.optimize()
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=optimize)
    worker.start()
    deadline = time.monotonic() + 60
    while not (kids := _optimizer_children(os.getpid())):
        assert time.monotonic() < deadline, "no optimizer child started"
        time.sleep(0.005)
    kids[0].send_signal(signal.SIGKILL)
    worker.join(60)
    assert len(errors) == 1 and isinstance(errors[0], StoreError)
    assert "the index is intact, run the index again" in str(errors[0])
    assert store.count() == N and store.search(_query())
    assert _leftovers(path) == []
    store.close()


_OWNER = textwrap.dedent(
    """
    import sys, uuid
    from codeweaver.adapters.edge_store import EdgeStore
    from codeweaver.types import SparseVec, StoredPoint
    store = EdgeStore(sys.argv[1], child_optimize_points=1)
    store.ensure(8)
    store.upsert([
        StoredPoint(str(uuid.UUID(int=i + 1)), [float(i % 5 + 1)] * 8, SparseVec((i % 9,), (1.0,)),
                    {"path": f"f{i}.py", "start_line": 1, "end_line": 2})
        for i in range(int(sys.argv[2]))
    ])
    print("loaded", flush=True)
    store.optimize()
    print("optimized", flush=True)
    """
)


def test_killed_owner_during_a_build_leaves_a_complete_shard(tmp_path: Path) -> None:
    path = tmp_path / "shard"
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(path), str(N)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "loaded"
        deadline = time.monotonic() + 60
        while not (kids := _optimizer_children(owner.pid)):
            assert owner.poll() is None and time.monotonic() < deadline, "no optimizer child"
            time.sleep(0.005)
        owner.send_signal(signal.SIGKILL)
        owner.wait(30)
        kids[0].wait(30)  # the child dies with its parent
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
    store = EdgeStore(path)
    assert store.count() == N
    assert _leftovers(path) == []
    store.close()


@pytest.mark.parametrize("stage", ["between the renames", "before removing the old one"])
def test_an_interrupted_swap_is_finished_or_undone_on_open(tmp_path: Path, stage: str) -> None:
    path = tmp_path / "shard"
    fresh, prev = generation_paths(path)
    _filled(path).close()
    os.rename(path, prev)
    if stage == "before removing the old one":
        subprocess.run(["cp", "-a", str(prev), str(path)], check=True)
    else:
        fresh.mkdir()  # a half-written copy
        (fresh / "junk").write_text("x")
    store = EdgeStore(path)
    assert store.count() == N
    assert _leftovers(path) == []
    store.close()
