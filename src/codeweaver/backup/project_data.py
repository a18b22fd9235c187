"""One project's data in a backup: its collection, manifest and ``project.json``.

Embedded (Qdrant Edge) projects are copied while the project's writer lock is held, so
no index run writes during the copy while searches keep running. The shard's
write-ahead log makes the copied folder a consistent state (the state a crash at that
moment would leave); the copy is then opened, counted and probed. The SQLite manifest is
copied through SQLite's online backup API.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeweaver.backup.filecopy import copy_tree
from codeweaver.backup.manifest import CollectionInfo
from codeweaver.backup.throttle import Throttle
from codeweaver.errors import BackupError, IndexingError
from codeweaver.types import SparseVec, StoreQuery

__all__ = [
    "PROBE_LIMIT",
    "LockFactory",
    "ProjectRef",
    "check_project",
    "copy_project_files",
    "copy_sqlite",
    "describe_copy",
    "hold_writer_lock",
    "judge_project",
    "manifest_facts",
    "probe_query",
    "recorded",
    "same_results",
    "snapshot_project",
]

PROBE_LIMIT = 10
LockFactory = Callable[[Path, str], AbstractContextManager[None]]


@dataclass(frozen=True, slots=True)
class ProjectRef:
    name: str
    folder: Path


@contextmanager
def hold_writer_lock(lock: LockFactory, folder: Path, name: str, timeout: float) -> Iterator[None]:
    """Wait (up to ``timeout`` s) for the project's writer lock, then hold it."""
    deadline = time.monotonic() + timeout
    while True:
        cm = lock(folder, name)
        try:
            cm.__enter__()
        except IndexingError as exc:
            if time.monotonic() >= deadline:
                raise BackupError(
                    f"project {name!r} stayed locked by an index run for {timeout:.0f}s: {exc}"
                ) from exc
            time.sleep(0.2)
            continue
        try:
            yield
        finally:
            cm.__exit__(None, None, None)
        return


def copy_sqlite(src: Path, dst: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included) as one file."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
        try:
            target = sqlite3.connect(dst)
            try:
                source.backup(target)
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy database {src}: {exc}") from exc


def manifest_facts(db: Path) -> tuple[int, str | None, int | None]:
    if not db.is_file():
        return 0, None, None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        files = int(conn.execute("SELECT COUNT(*) FROM files").fetchone()[0])
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.Error as exc:
        raise BackupError(f"manifest copy {db} is unreadable: {exc}") from exc
    finally:
        conn.close()
    model = json.loads(meta["model_id"]) if "model_id" in meta else None
    dim = json.loads(meta["dim"]) if "dim" in meta else None
    return files, model, dim


def probe_query(probe: dict[str, Any]) -> StoreQuery:
    sparse = probe["sparse"]
    return StoreQuery(
        dense=probe["dense"],
        sparse=SparseVec(tuple(sparse["indices"]), tuple(sparse["values"])),
        limit=PROBE_LIMIT,
    )


def _inspect_copy(shard: Path, probes: int) -> tuple[int, list[dict[str, Any]]]:
    """Open the copied shard once: its point count, and ``probes`` probe searches with
    their top results."""
    from codeweaver.adapters.edge_store import EdgeStore

    if not shard.is_dir():
        return 0, []
    store = EdgeStore(shard)
    try:
        recorded = store.sample_vectors(probes)
        for probe in recorded:
            probe["top"] = [[h.id, h.score] for h in store.search(probe_query(probe))]
        return store.count(), recorded
    finally:
        store.close()


def same_results(expected: list[tuple[str, float]], got: list[tuple[str, float]]) -> bool:
    """Equal top results, up to the order of equal scores: the same scores, and the same
    ids for every score except the lowest (whose ties the limit may cut anywhere)."""

    def groups(rows: list[tuple[str, float]]) -> dict[float, set[str]]:
        out: dict[float, set[str]] = {}
        for point, score in rows:
            out.setdefault(round(score, 5), set()).add(point)
        return out

    want, have = groups(expected), groups(got)
    if {k: len(v) for k, v in want.items()} != {k: len(v) for k, v in have.items()}:
        return False
    lowest = min(want, default=0.0)
    return all(have[k] == ids for k, ids in want.items() if k != lowest)


def snapshot_project(
    ref: ProjectRef,
    out: Path,
    *,
    lock: LockFactory,
    lock_timeout: float,
    probes: int,
    throttle: Throttle | None = None,
) -> CollectionInfo:
    """Copy ``ref``'s folder into ``out`` (``project.json``, manifest, shard, probes)."""
    out.mkdir(parents=True, exist_ok=True)
    with hold_writer_lock(lock, ref.folder, ref.name, lock_timeout):
        copy_project_files(ref, out)
        if (ref.folder / "shard").is_dir():
            copy_tree(ref.folder / "shard", out / "shard", throttle)
    # Writers may resume: everything below works on the copy.
    points, recorded = _inspect_copy(out / "shard", probes)
    return describe_copy(ref, out, "edge", points, recorded)


def copy_project_files(ref: ProjectRef, out: Path) -> None:
    """``project.json`` and the index manifest (SQLite's online backup) into ``out``; the
    caller holds the project's writer lock."""
    shutil.copy2(ref.folder / "project.json", out / "project.json")
    if (ref.folder / "manifest.sqlite").is_file():
        copy_sqlite(ref.folder / "manifest.sqlite", out / "manifest.sqlite")


def describe_copy(
    ref: ProjectRef, out: Path, store: str, points: int, probes: list[dict[str, Any]]
) -> CollectionInfo:
    """Write the probes beside a project's copy in ``out`` and describe it for the manifest."""
    (out / "probes.json").write_text(json.dumps(probes), encoding="utf-8")
    files, model, dim = manifest_facts(out / "manifest.sqlite")
    return CollectionInfo(
        project=ref.name,
        store=store,
        points=points,
        files=files,
        model=model,
        dim=dim,
        probes=len(probes),
    )


def judge_project(
    folder: Path,
    info: CollectionInfo,
    points: int,
    replay: Callable[[dict[str, Any]], bool] | None,
) -> dict[str, Any]:
    """Compare a restored project (its ``points``, the manifest in ``folder``, the probes
    ``replay`` finds matching) with what the backup recorded."""
    problems: list[str] = []
    if points != info.points:
        problems.append(f"{info.project}: {points} points, the backup recorded {info.points}")
    files, _, _ = manifest_facts(folder / "manifest.sqlite")
    if files != info.files:
        problems.append(f"{info.project}: manifest lists {files} files, expected {info.files}")
    probes = json.loads((folder / "probes.json").read_text(encoding="utf-8"))
    matched = 0
    if probes and replay is not None:
        for probe in probes:
            if replay(probe):
                matched += 1
            else:
                problems.append(f"{info.project}: probe {probe['point']} returned other results")
    return {
        "project": info.project,
        "store": info.store,
        "points": points,
        "expected_points": info.points,
        "files": files,
        "probes": len(probes),
        "probes_matched": matched,
        "problems": problems,
    }


def recorded(rows: list[list[Any]]) -> list[tuple[str, float]]:
    """A probe's recorded ``[[id, score], …]`` as ``same_results`` compares them."""
    return [(str(i), float(s)) for i, s in rows]


def check_project(folder: Path, info: CollectionInfo) -> dict[str, Any]:
    """Open a restored project copy: point count, manifest and probe results."""
    shard = folder / "shard"
    if not shard.is_dir():
        return judge_project(folder, info, 0, None)
    from codeweaver.adapters.edge_store import EdgeStore

    store = EdgeStore(shard)

    def replay(probe: dict[str, Any]) -> bool:
        got = [(h.id, h.score) for h in store.search(probe_query(probe))]
        return same_results(recorded(probe["top"]), got)

    try:
        return judge_project(folder, info, store.count(), replay)
    finally:
        store.close()
