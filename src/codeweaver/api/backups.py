"""Admin routes for backups, and the scheduled-backup thread of ``serve``.

Backups over HTTP always go to the configured destination (``backup.dest``): a client
cannot choose where the server writes. A backup made by the server runs in a child
process at background CPU priority (``SCHED_IDLE``), so its hashing, compression and
shard reads neither hold this process's GIL nor take CPU time searches want.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Path as PathParam
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from codeweaver.api.access import audit_admin
from codeweaver.config import Settings
from codeweaver.container import build_backup_service
from codeweaver.errors import CodeWeaverError
from codeweaver.ops.backup import BackupScheduler, BackupService
from codeweaver.ops.backup.priority import background_process

__all__ = [
    "BackupBody",
    "create_backup",
    "create_in_child",
    "list_backups",
    "start_scheduler",
    "verify_backup",
]

log = logging.getLogger("codeweaver.api")
BackupId = Annotated[str, PathParam(min_length=1, max_length=64)]


class BackupBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    components: list[Annotated[str, Field(min_length=1, max_length=32)]] | None = Field(
        None, max_length=8
    )
    project: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    verify: bool = True


def _service(request: Request) -> BackupService:
    service: BackupService | None = getattr(request.app.state, "backups", None)
    if service is None:
        settings: Settings = request.app.state.settings
        service = build_backup_service(settings)
        request.app.state.backups = service
    return service


def _create_in_background(settings: Settings, kwargs: dict[str, Any]) -> dict[str, Any]:
    return build_backup_service(settings).create(**kwargs)


def create_in_child(settings: Settings, **kwargs: Any) -> dict[str, Any]:
    """``BackupService.create`` in a fresh child process; its errors are raised here.

    The child lowers its priority before it loads the rest of CodeWeaver."""
    with background_process() as pool:
        return pool.submit(_create_in_background, settings, kwargs).result()


def create_backup(request: Request, body: BackupBody | None = None) -> JSONResponse:
    body = body or BackupBody(components=None)
    _service(request).destination()  # a bad destination fails here, before a process starts
    settings: Settings = request.app.state.settings
    try:
        out = create_in_child(
            settings, components=body.components, project=body.project, verify=body.verify
        )
    except CodeWeaverError as exc:
        audit_admin(request, "backup.create", "failure", str(exc))
        raise
    audit_admin(request, "backup.create", backup_id=out.get("backup_id"))
    return JSONResponse(out, status_code=201)


def list_backups(request: Request) -> dict[str, Any]:
    return {"backups": _service(request).list()}


def verify_backup(request: Request, backup_id: BackupId) -> dict[str, Any]:
    result = _service(request).verify(backup_id)
    outcome = "success" if result.get("ok") else "failure"
    audit_admin(request, "backup.verify", outcome, backup_id=backup_id)
    return result


def start_scheduler(settings: Settings) -> BackupScheduler | None:
    """The scheduled-backup thread, started, when ``backup.interval_hours`` is set."""
    hours = settings.backup.interval_hours
    if hours <= 0:
        return None

    def job() -> dict[str, Any]:
        made = create_in_child(settings)
        pruned = build_backup_service(settings).prune()
        return {"backup": made, "prune": pruned, "ok": bool(made["verification"]["ok"])}

    scheduler = BackupScheduler(job, hours * 3600)
    scheduler.start()
    log.info("scheduled backups every %.3g h to %s", hours, settings.backup.dest or "home")
    return scheduler
