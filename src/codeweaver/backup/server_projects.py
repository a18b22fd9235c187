"""A project whose vectors live in a Qdrant server collection, in a backup and a restore.

Backup: while the project's writer lock is held, ``project.json`` and the manifest are
copied as for embedded projects, the collection is exported point by point into
``collection/`` (``adapters.server_export``), and the probe searches run against the live
collection, still under the lock, so their top results describe exactly the exported
points. A server probe replays a sampled point's dense and sparse vector each alone, with
exact search, and records both top lists with their raw scores: fused (RRF) ranks depend on
how the server orders tied scores inside a collection, which a rebuilt collection need not
repeat, while raw scores compare up to the order of ties (``same_results``).

Restore: the export is loaded into a new collection beside the live one
(``<collection>__restore_<token>``), waited for, counted and probed before anything live
changes; ``server_swap`` then swaps it in. The names of the collections a restore creates
are kept in ``<home>/.restore/pending-<recovery_id>.json`` until they are live or deleted,
so a restore killed while loading leaves nothing behind for long.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeweaver.backup.manifest import CollectionInfo
from codeweaver.backup.project_data import (
    PROBE_LIMIT,
    LockFactory,
    ProjectRef,
    copy_project_files,
    describe_copy,
    hold_writer_lock,
    judge_project,
    recorded,
    same_results,
)
from codeweaver.backup.throttle import Throttle
from codeweaver.errors import BackupError, StoreError
from codeweaver.types import SparseVec, StoreQuery

if TYPE_CHECKING:
    from codeweaver.adapters.server_backup import ServerCollections
    from codeweaver.adapters.server_store import QdrantServerStore

__all__ = [
    "EXPORT_DIR",
    "Pending",
    "check_live",
    "drop_leftovers",
    "snapshot_server_project",
    "stage_server_project",
]

EXPORT_DIR = "collection"
READY_TIMEOUT = 600.0  # seconds a restore waits for the server to index what it loaded


def _sides(store: QdrantServerStore, probe: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """The probe's dense and sparse queries, each alone, exact: ``{side: [[id, score]]}``."""
    sparse = SparseVec(tuple(probe["sparse"]["indices"]), tuple(probe["sparse"]["values"]))
    queries = {
        "dense": StoreQuery(dense=probe["dense"], sparse=None, limit=PROBE_LIMIT),
        "sparse": StoreQuery(dense=None, sparse=sparse, limit=PROBE_LIMIT),
    }
    return {
        side: [[h.id, h.score] for h in store.search(query, exact=True)]
        for side, query in queries.items()
    }


def snapshot_server_project(
    ref: ProjectRef,
    out: Path,
    *,
    server: ServerCollections,
    lock: LockFactory,
    lock_timeout: float,
    probes: int,
    throttle: Throttle | None = None,
) -> CollectionInfo:
    """Copy ``ref``'s files into ``out``, export its collection, record the probes."""
    out.mkdir(parents=True, exist_ok=True)
    name = server.live_name(ref.name)
    probes_made: list[dict[str, Any]] = []
    points = 0
    with hold_writer_lock(lock, ref.folder, ref.name, lock_timeout):
        copy_project_files(ref, out)
        try:
            if server.exists(name):
                on_bytes = throttle.consume if throttle is not None else None
                exported = server.export(name, out / EXPORT_DIR, sample=probes, on_bytes=on_bytes)
                points = exported.points
                store = server.store(name)
                for probe in exported.samples:
                    probe["top"] = _sides(store, probe)
                probes_made = exported.samples
        except StoreError as exc:
            raise BackupError(f"project {ref.name!r}: {exc}") from exc
    return describe_copy(ref, out, "server", points, probes_made)


def _judge(
    folder: Path, info: CollectionInfo, server: ServerCollections, name: str
) -> dict[str, Any]:
    store = server.store(name)

    def replay(probe: dict[str, Any]) -> bool:
        got = _sides(store, probe)
        return all(
            same_results(recorded(rows), recorded(got[side])) for side, rows in probe["top"].items()
        )

    return judge_project(folder, info, store.count(), replay)


def stage_server_project(
    folder: Path, info: CollectionInfo, server: ServerCollections, name: str
) -> dict[str, Any]:
    """Load the export in ``folder`` into the new collection ``name`` and check it there.

    The report's ``collection`` is ``name``, or ``None`` when the backup held no
    collection for the project (nothing is created then)."""
    export = folder / EXPORT_DIR
    if not export.is_dir():
        report = judge_project(folder, info, 0, None)
        report["collection"] = None
        return report
    if server.exists(name):
        raise BackupError(f"collection {name!r} already exists")
    server.load(export, name)
    status = server.wait_ready(name, READY_TIMEOUT)
    report = _judge(folder, info, server, name)
    report["collection"] = name
    report["collection_status"] = status
    return report


def check_live(folder: Path, info: CollectionInfo, server: ServerCollections) -> dict[str, Any]:
    """The checks of ``stage_server_project`` again, through the live collection name."""
    return _judge(folder, info, server, server.live_name(info.project))


class Pending:
    """The collections a restore has created, listed on disk until live or deleted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.names: list[str] = []

    def add(self, name: str) -> None:
        self.names.append(name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.names), encoding="utf-8")
        tmp.replace(self.path)


def drop_leftovers(path: Path, server: ServerCollections) -> list[str]:
    """Delete every collection ``path`` lists that no alias points at (not swapped in),
    then the list; returns the names deleted. Errors leave the list for the next try."""
    try:
        names = [str(n) for n in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError):
        path.unlink(missing_ok=True)
        return []
    dropped: list[str] = []
    for name in names:
        if server.resolve(name)[0] is not None and not server.is_alias_target(name):
            server.drop(name)
            dropped.append(name)
    path.unlink(missing_ok=True)
    return dropped
