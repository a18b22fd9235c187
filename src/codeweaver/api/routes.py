"""Every route of the HTTP API, declared once: method, path, handler, summary.

``create_app`` registers exactly these; the README's "HTTP API" table lists them
(a test keeps the two in step).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from codeweaver.api import backups as b
from codeweaver.api import handlers as h

__all__ = ["ROUTES", "Route"]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Callable[..., Any]
    summary: str
    status: int = 200


ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", h.health_summary, "Overall health; 503 when unhealthy."),
    Route("GET", "/health/live", h.health_live, "Liveness: the process answers."),
    Route("GET", "/health/ready", h.health_ready, "Readiness: store open, embedder loaded."),
    Route("GET", "/api/v1/health", h.api_health, "Health with per-component detail and latency."),
    Route("POST", "/api/v1/search", h.search, "Hybrid semantic search in a project."),
    Route(
        "POST",
        "/api/v1/structural-search",
        h.structural_search,
        "ast-grep pattern search over a project's indexed files.",
    ),
    Route("POST", "/api/v1/index", h.start_index, "Start a background index job.", 202),
    Route("GET", "/api/v1/jobs/{job_id}", h.get_job, "State and progress of an index job."),
    Route("GET", "/api/v1/projects", h.list_projects, "List indexed projects."),
    Route("GET", "/api/v1/projects/{name}", h.get_project, "One project's status."),
    Route("DELETE", "/api/v1/projects/{name}", h.delete_project, "Delete a project's index."),
    Route(
        "GET",
        "/api/v1/projects/{name}/files",
        h.project_file,
        "A line range of an indexed file.",
    ),
    Route("POST", "/api/v1/admin/backups", b.create_backup, "Back up now (and verify).", 201),
    Route("GET", "/api/v1/admin/backups", b.list_backups, "List backups, newest first."),
    Route(
        "POST",
        "/api/v1/admin/backups/{backup_id}/verify",
        b.verify_backup,
        "Download a backup and check every checksum.",
    ),
)
