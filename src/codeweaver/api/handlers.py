"""Route handlers: thin, synchronous (FastAPI runs them in its thread pool)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path as PathParam
from fastapi import Query, Request
from fastapi.responses import JSONResponse

from codeweaver.api import health
from codeweaver.api.access import audit_access, principal_of, tenants_of
from codeweaver.api.schemas import IndexBody, SearchBody, StructuralBody
from codeweaver.api.web.highlight import HIGHLIGHT_CONTEXT, highlight_lines
from codeweaver.config import Settings
from codeweaver.engine import Engine
from codeweaver.errors import IndexingError, StoreError
from codeweaver.search.service import SearchRequest
from codeweaver.workers.jobs import JobManager

__all__ = [
    "api_health",
    "cache_stats",
    "delete_project",
    "get_job",
    "get_project",
    "health_live",
    "health_ready",
    "health_summary",
    "list_jobs",
    "list_projects",
    "project_file",
    "search",
    "start_index",
    "structural_search",
]

ProjectName = Annotated[str, PathParam(min_length=1, max_length=64)]


def _engine(request: Request) -> Engine:
    engine: Engine | None = getattr(request.app.state, "engine", None)
    if engine is None:
        raise StoreError("the server is starting or stopping; try again")
    return engine


def _jobs(request: Request) -> JobManager:
    jobs: JobManager = request.app.state.jobs
    return jobs


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# ------------------------------------------------------------------ health
def _components(request: Request, tenants: tuple[str, ...] | None) -> dict[str, dict[str, Any]]:
    return health.check_health(
        _engine(request),
        _settings(request).home,
        _jobs(request).active_projects(),
        health.registered_checks(request.app),
        tenants=tenants,
    )


def health_summary(request: Request) -> JSONResponse:
    """Anyone may ask: statuses only, from a check at most a few seconds old."""
    _engine(request)  # while starting or stopping: 503, and nothing cached
    cache: health.HealthCache = request.app.state.health_cache
    components = cache.get(lambda: _components(request, None))
    status = health.overall(components)
    body = {"status": status, "components": {k: v["status"] for k, v in components.items()}}
    return JSONResponse(body, status_code=503 if status == "unhealthy" else 200)


def api_health(request: Request) -> JSONResponse:
    components = _components(request, tenants_of(request))
    status = health.overall(components)
    body = {"status": status, "components": components}
    return JSONResponse(body, status_code=503 if status == "unhealthy" else 200)


def health_live() -> dict[str, str]:
    return {"status": "alive"}


def health_ready(request: Request) -> JSONResponse:
    ok, detail = health.readiness(getattr(request.app.state, "engine", None))
    body = {"status": "ready" if ok else "not ready", "components": detail}
    return JSONResponse(body, status_code=200 if ok else 503)


# ------------------------------------------------------------------ search
def search(request: Request, body: SearchBody) -> dict[str, Any]:
    engine = _engine(request)
    tenants = tenants_of(request)
    req = SearchRequest(
        body.query, limit=body.limit, language=body.language, path=body.path, kind=body.kind
    )
    # search first: a refused search (unknown project) is still seen by the listeners
    result = engine.search(req, body.project, use_cwd=False, tenants=tenants)
    project = engine.resolve_project(body.project, use_cwd=False, tenants=tenants)
    audit_access(request, project.name, "search", results=len(result.hits))
    results = [h.as_dict() for h in result.hits]
    if body.highlight:
        for item in results:
            item["snippet_html"] = highlight_lines(item["snippet"], item["language"])
    return {
        "project": project.name,
        "results": results,
        "took_ms": result.took_ms,
        "query_type": result.query_type,
        "degraded": result.degraded,
    }


def cache_stats(request: Request) -> dict[str, Any]:
    return _engine(request).cache_report(top=10, tenants=tenants_of(request))


def structural_search(request: Request, body: StructuralBody) -> dict[str, Any]:
    files = _engine(request).project_files(body.project, tenants=tenants_of(request))
    found = files.structural(body.pattern, body.language, body.limit)
    audit_access(request, found["project"], "structural_search", results=len(found["matches"]))
    return found


# ------------------------------------------------------------------- index
def start_index(request: Request, body: IndexBody) -> dict[str, Any]:
    caller = principal_of(request)
    job = _jobs(request).submit(body.path, body.project, full=body.full, caller=caller)
    audit_access(request, job.project, "index", job_id=job.id)
    return {"job_id": job.id, "project": job.project, "state": job.state}


def list_jobs(request: Request) -> dict[str, Any]:
    return {"jobs": _jobs(request).recent(tenants=tenants_of(request))}


def get_job(request: Request, job_id: Annotated[str, PathParam(max_length=64)]) -> dict[str, Any]:
    return _jobs(request).get(job_id, tenants=tenants_of(request))


# ---------------------------------------------------------------- projects
def list_projects(request: Request) -> dict[str, Any]:
    return {"projects": _engine(request).list_projects(tenants=tenants_of(request))}


def get_project(request: Request, name: ProjectName) -> dict[str, Any]:
    return _engine(request).status(name, tenants=tenants_of(request))


def delete_project(request: Request, name: ProjectName) -> dict[str, Any]:
    engine, tenants = _engine(request), tenants_of(request)
    engine.check_access(name, tenants)
    if name in _jobs(request).active_projects():
        raise IndexingError(f"project {name!r} is being indexed; try again when it finishes")
    engine.remove_project(name, tenants=tenants)
    audit_access(request, name, "delete")
    return {"removed": name}


def project_file(
    request: Request,
    name: ProjectName,
    path: Annotated[str, Query(min_length=1, max_length=4096)],
    start_line: Annotated[int | None, Query(ge=1, le=10_000_000)] = None,
    end_line: Annotated[int | None, Query(ge=1, le=10_000_000)] = None,
    highlight: bool = False,
) -> dict[str, Any]:
    files = _engine(request).project_files(name, tenants=tenants_of(request))
    found = files.read(path, start_line, end_line)
    if highlight:
        first = found["start_line"]
        lead = files.read(path, max(1, first - HIGHLIGHT_CONTEXT), first - 1) if first > 1 else None
        context = lead["content"] if lead else ""
        found["lines_html"] = highlight_lines(found["content"], found["language"], context)
    audit_access(request, name, "read_file", path=found["path"])
    return found
