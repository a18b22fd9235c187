"""Every route of the HTTP API, declared once: method, path, handler, summary, and the
permission a caller needs.

``create_app`` registers exactly these; the README's "HTTP API" table lists them and
their permissions (tests keep them in step, and fail if a route declares none).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from codeweaver.api import auth_handlers as ah
from codeweaver.api import backups as b
from codeweaver.api import handlers as h
from codeweaver.api import observability as obs
from codeweaver.api import runbooks as rb
from codeweaver.api import web
from codeweaver.auth.rbac import (
    AUTHENTICATED,
    BACKUP_READ,
    BACKUP_WRITE,
    CACHE_READ,
    CODE_READ,
    DEBUG_READ,
    HEALTH_READ,
    INDEX_DELETE,
    INDEX_READ,
    INDEX_WRITE,
    METRICS_READ,
    PUBLIC,
    RUNBOOK_READ,
    SEARCH_READ,
)

__all__ = ["ROUTES", "Route"]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Callable[..., Any]
    summary: str
    status: int = 200
    permission: str = ""  # codeweaver:{resource}:{action}, "public" or "authenticated"


ROUTES: tuple[Route, ...] = (
    Route("GET", "/", web.index_page, "The web page: search, files, projects.", permission=PUBLIC),
    Route(
        "GET",
        "/ui/{name}",
        web.asset,
        "A script, style sheet or icon of the web page.",
        permission=PUBLIC,
    ),
    Route(
        "GET", "/health", h.health_summary, "Overall health; 503 when unhealthy.", permission=PUBLIC
    ),
    Route(
        "GET", "/health/live", h.health_live, "Liveness: the process answers.", permission=PUBLIC
    ),
    Route(
        "GET",
        "/health/ready",
        h.health_ready,
        "Readiness: store open, embedder loaded.",
        permission=PUBLIC,
    ),
    Route(
        "GET",
        "/api/v1/health",
        h.api_health,
        "Health with per-component detail and latency.",
        permission=HEALTH_READ,
    ),
    Route(
        "POST",
        "/api/v1/search",
        h.search,
        "Hybrid semantic search in a project.",
        permission=SEARCH_READ,
    ),
    Route(
        "GET",
        "/api/v1/cache",
        h.cache_stats,
        "Cache hit/miss counts, shared cache state, popular searches of the caller's tenants.",
        permission=CACHE_READ,
    ),
    Route(
        "POST",
        "/api/v1/structural-search",
        h.structural_search,
        "ast-grep pattern search over a project's indexed files.",
        permission=SEARCH_READ,
    ),
    Route(
        "POST",
        "/api/v1/index",
        h.start_index,
        "Start a background index job.",
        202,
        permission=INDEX_WRITE,
    ),
    Route(
        "GET",
        "/api/v1/jobs",
        h.list_jobs,
        "The newest index jobs of the caller's tenants, with their progress.",
        permission=INDEX_READ,
    ),
    Route(
        "GET",
        "/api/v1/jobs/{job_id}",
        h.get_job,
        "State and progress of an index job.",
        permission=INDEX_READ,
    ),
    Route(
        "GET", "/api/v1/projects", h.list_projects, "List indexed projects.", permission=INDEX_READ
    ),
    Route(
        "GET",
        "/api/v1/projects/{name}",
        h.get_project,
        "One project's status.",
        permission=INDEX_READ,
    ),
    Route(
        "DELETE",
        "/api/v1/projects/{name}",
        h.delete_project,
        "Delete a project's index.",
        permission=INDEX_DELETE,
    ),
    Route(
        "GET",
        "/api/v1/projects/{name}/files",
        h.project_file,
        "A line range of an indexed file.",
        permission=CODE_READ,
    ),
    Route(
        "POST",
        "/auth/token",
        ah.token,
        "Log in (username + password, or an API key): access + refresh token.",
        permission=PUBLIC,
    ),
    Route(
        "POST",
        "/auth/refresh",
        ah.refresh,
        "Trade a refresh token for a new pair (rotation; reuse revokes the family).",
        permission=PUBLIC,
    ),
    Route(
        "POST",
        "/auth/logout",
        ah.logout,
        "Revoke the access token and the given refresh token's family.",
        permission=AUTHENTICATED,
    ),
    Route(
        "GET",
        "/api/v1/user/permissions",
        ah.my_permissions,
        "The caller: user, roles, tenants and effective permissions.",
        permission=AUTHENTICATED,
    ),
    Route(
        "GET",
        "/metrics",
        obs.metrics,
        "Prometheus metrics (text exposition format).",
        permission=METRICS_READ,
    ),
    Route(
        "GET",
        "/api/v1/debug/memory",
        obs.debug_memory,
        "Memory diagnostics: RSS, tracemalloc top allocations, cache and index sizes.",
        permission=DEBUG_READ,
    ),
    Route(
        "POST",
        "/api/v1/admin/backups",
        b.create_backup,
        "Start a backup job (and verify it); 202 with the job id, or 201 with the summary "
        "when the body sets wait.",
        202,
        permission=BACKUP_WRITE,
    ),
    Route(
        "GET",
        "/api/v1/admin/backups/jobs/{job_id}",
        b.backup_job,
        "A backup job's state and, once done, its result or error.",
        permission=BACKUP_READ,
    ),
    Route(
        "GET",
        "/api/v1/admin/backups",
        b.list_backups,
        "List backups, newest first.",
        permission=BACKUP_READ,
    ),
    Route(
        "POST",
        "/api/v1/admin/backups/{backup_id}/verify",
        b.verify_backup,
        "Download a backup and check every checksum.",
        permission=BACKUP_READ,
    ),
    Route(
        "GET",
        "/api/v1/runbooks",
        rb.list_runbooks,
        "Search the runbook articles (q); without q, list them.",
        permission=RUNBOOK_READ,
    ),
    Route(
        "GET",
        "/api/v1/runbooks/{slug}",
        rb.read_runbook,
        "One runbook article's Markdown, by its name.",
        permission=RUNBOOK_READ,
    ),
)
