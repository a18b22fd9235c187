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

from codeweaver.api.access import audit_admin, audit_admin_later
from codeweaver.api.backup_jobs import BackupJob, BackupJobs
from codeweaver.backup import BackupScheduler, BackupService
from codeweaver.backup.priority import background_process
from codeweaver.config import Settings
from codeweaver.container import build_backup_service
from codeweaver.errors import CodeWeaverError

__all__ = [
    "BackupBody",
    "VerifyBody",
    "backup_job",
    "create_backup",
    "create_in_child",
    "list_backups",
    "start_scheduler",
    "verify_backup",
]

log = logging.getLogger("codeweaver.api")
BackupId = Annotated[str, PathParam(min_length=1, max_length=64)]
JobId = Annotated[str, PathParam(min_length=1, max_length=64)]


class BackupBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    components: list[Annotated[str, Field(min_length=1, max_length=32)]] | None = Field(
        None, max_length=8
    )
    project: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    verify: bool = True
    wait: bool = False


class VerifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    allow_unsigned: bool = Field(
        False,
        description="Check a backup that is unsigned or not signed with this server's key "
        "(audited; it is never recorded as verified).",
    )


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


def _jobs(request: Request) -> BackupJobs:
    jobs: BackupJobs | None = getattr(request.app.state, "backup_jobs", None)
    if jobs is None:
        jobs = request.app.state.backup_jobs = BackupJobs()
    return jobs


def create_backup(request: Request, body: BackupBody | None = None) -> JSONResponse:
    """Start a backup job (202 + job id), or with ``wait`` run it and answer 201 + summary.

    Bad input (destination, components, project) is refused here, before anything runs."""
    body = body or BackupBody(components=None)
    service = _service(request)
    audit = audit_admin_later(request, "backup.create")
    try:
        service.check_request(None, body.components, body.project)
    except CodeWeaverError as exc:
        audit("failure", str(exc))
        raise
    settings: Settings = request.app.state.settings
    kwargs = {"components": body.components, "project": body.project, "verify": body.verify}
    if body.wait:
        try:
            out = create_in_child(settings, **kwargs)
        except CodeWeaverError as exc:
            audit("failure", str(exc))
            raise
        audit("success", backup_id=out.get("backup_id"))
        return JSONResponse(out, status_code=201)

    def finished(job: BackupJob) -> None:
        backup_id = (job.result or {}).get("backup_id")
        outcome = "success" if job.state == "succeeded" else "failure"
        audit(outcome, job.error, job_id=job.job_id, backup_id=backup_id)
        if job.error:
            log.warning("backup job %s failed: %s", job.job_id, job.error)

    try:
        job = _jobs(request).submit(lambda: create_in_child(settings, **kwargs), finished)
    except CodeWeaverError as exc:
        audit("failure", str(exc))
        raise
    out = job.as_dict()
    out["status_url"] = f"/api/v1/admin/backups/jobs/{job.job_id}"
    return JSONResponse(out, status_code=202, headers={"Location": out["status_url"]})


def backup_job(request: Request, job_id: JobId) -> dict[str, Any]:
    return _jobs(request).get(job_id).as_dict()


def list_backups(request: Request) -> dict[str, Any]:
    return {"backups": _service(request).list()}


def verify_backup(
    request: Request, backup_id: BackupId, body: VerifyBody | None = None
) -> dict[str, Any]:
    allow_unsigned = body is not None and body.allow_unsigned
    result = _service(request).verify(backup_id, allow_unsigned=allow_unsigned)
    outcome = "success" if result.get("ok") else "failure"
    audit_admin(
        request,
        "backup.verify",
        outcome,
        (result.get("problems") or [None])[0],
        backup_id=backup_id,
        signature=result.get("signature"),
        allow_unsigned=allow_unsigned,
    )
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
