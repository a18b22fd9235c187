"""Where restored projects go: a data-directory folder with an embedded Qdrant Edge shard,
or a folder plus a Qdrant server collection (``server_projects``, ``server_swap``).

A project is restored into the store it was backed up from; a backup of the other kind
is refused with the setting to change.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from codeweaver.backup.create import BackupContext
from codeweaver.backup.manifest import CollectionInfo
from codeweaver.backup.paths import contained
from codeweaver.backup.project_data import check_project
from codeweaver.backup.server_projects import (
    EXPORT_DIR,
    Pending,
    check_live,
    drop_leftovers,
    stage_server_project,
)
from codeweaver.backup.server_swap import ServerSwapper, plan_swap
from codeweaver.backup.swap import CollectionSwapper
from codeweaver.errors import CodeWeaverError

__all__ = ["Targets", "swapper"]


def swapper(ctx: BackupContext) -> CollectionSwapper | None:
    """What rolls back or finishes journaled collection swaps (server mode only)."""
    return ServerSwapper(ctx.server_collections()) if ctx.server_mode else None


def _store_problem(ctx: BackupContext, info: CollectionInfo) -> str | None:
    if info.store == "server" and not ctx.server_mode:
        return (
            f"{info.project}: backed up from a Qdrant server collection; restore it with "
            "qdrant.mode = 'server'"
        )
    if info.store != "server" and ctx.server_mode:
        return (
            f"{info.project}: backed up from an embedded Qdrant Edge shard; restore it with "
            "qdrant.mode = 'embedded'"
        )
    return None


class Targets:
    """Where one restore's projects go: check each staged copy (loading a server
    project's export into a new collection first), plan the collection swaps, check
    the live result, delete the collections that did not go live."""

    def __init__(self, ctx: BackupContext, rid: str) -> None:
        self._ctx = ctx
        self.token = rid.removeprefix("r").lower()
        self.pending = Pending(ctx.home / ".restore" / f"pending-{rid}.json")
        self.staged: dict[str, str | None] = {}

    def verify(self, folder: Path, info: CollectionInfo) -> dict[str, Any]:
        problem = _store_problem(self._ctx, info)
        if problem is not None:
            return {"project": info.project, "store": info.store, "problems": [problem]}
        if info.store != "server":
            return check_project(folder, info)
        server = self._ctx.server_collections()
        name = server.side_name(info.project, "restore", self.token)
        self.pending.add(name)
        report = stage_server_project(folder, info, server, name)
        self.staged[info.project] = report["collection"]
        return report

    def swaps(self, data: Path) -> list[dict[str, Any]]:
        """Plan the collection swaps; the exports stay out of the live project folders."""
        if not self.staged:
            return []
        server = self._ctx.server_collections()
        for project in self.staged:
            shutil.rmtree(contained(data / "projects", project, EXPORT_DIR), ignore_errors=True)
        return [
            plan_swap(server, project, new, self.token).to_dict()
            for project, new in self.staged.items()
        ]

    def check_live(self, info: CollectionInfo) -> dict[str, Any]:
        folder = contained(self._ctx.home / "projects", info.project)
        if info.store != "server":
            return check_project(folder, info)
        return check_live(folder, info, self._ctx.server_collections())

    def clean_up(self) -> list[str]:
        """Delete the collections this restore made that did not go live."""
        if not self.pending.path.is_file():
            return []
        try:
            dropped = drop_leftovers(self.pending.path, self._ctx.server_collections())
        except CodeWeaverError as exc:
            return [f"collections {self.pending.names} left for the next restore: {exc}"]
        return [f"deleted collection {name}" for name in dropped]
