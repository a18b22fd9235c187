"""Admin routes for backups, and the scheduled-backup thread of ``serve``.

Backups over HTTP always go to the configured destination (``backup.dest``): a client
cannot choose where the server writes.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Path as PathParam
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from codeweaver.config import Settings
from codeweaver.container import build_backup_service
from codeweaver.ops.backup import BackupScheduler, BackupService

__all__ = [
    "BackupBody",
    "create_backup",
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


def create_backup(request: Request, body: BackupBody | None = None) -> JSONResponse:
    body = body or BackupBody(components=None)
    out = _service(request).create(
        components=body.components, project=body.project, verify=body.verify
    )
    return JSONResponse(out, status_code=201)


def list_backups(request: Request) -> dict[str, Any]:
    return {"backups": _service(request).list()}


def verify_backup(request: Request, backup_id: BackupId) -> dict[str, Any]:
    return _service(request).verify(backup_id)


def start_scheduler(settings: Settings) -> BackupScheduler | None:
    """The scheduled-backup thread, started, when ``backup.interval_hours`` is set."""
    hours = settings.backup.interval_hours
    if hours <= 0:
        return None
    scheduler = BackupScheduler(build_backup_service(settings), hours * 3600)
    scheduler.start()
    log.info("scheduled backups every %.3g h to %s", hours, settings.backup.dest or "home")
    return scheduler
