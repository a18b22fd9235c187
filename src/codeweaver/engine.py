"""The application service every edge calls: index, search, status, projects.

Written against the Protocols; ``container.build_engine`` wires the real adapters.

Tenant isolation lives here, where projects are looked up: every call takes the
caller's ``tenants`` (``None``, or a collection holding ``"*"``, means all of them).
A project of another tenant is reported exactly like an unknown one
(``OutOfScopeError``, a ``NotFoundError``), and listings never show it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeweaver.errors import InputError, NotFoundError, OutOfScopeError
from codeweaver.index.discovery import resolve_root
from codeweaver.index.lock import writer_lock
from codeweaver.index.manifest import Manifest
from codeweaver.index.pipeline import Indexer, IndexOptions, Progress
from codeweaver.index.projects import (
    DEFAULT_TENANT,
    Project,
    ProjectRegistry,
    default_project_name,
)
from codeweaver.search.service import FusionParams, SearchRequest, SearchResult, SearchService
from codeweaver.types import Embedder, IndexStats, SparseEncoder, VectorStore

__all__ = ["ALL_TENANTS", "Engine", "StoreFactory", "Tenants", "visible"]

StoreFactory = Callable[[Project], VectorStore]
Tenants = Collection[str] | None
ALL_TENANTS = "*"


def visible(project: Project, tenants: Tenants) -> bool:
    """Whether a caller limited to ``tenants`` may see ``project``."""
    return tenants is None or ALL_TENANTS in tenants or project.tenant in tenants


@dataclass(slots=True)
class _Open:
    project: Project
    store: VectorStore
    manifest: Manifest
    paths: list[str] | None = None


class Engine:
    def __init__(
        self,
        registry: ProjectRegistry,
        store_factory: StoreFactory,
        embedder: Embedder,
        sparse: SparseEncoder,
        searcher: SearchService,
        index_options: IndexOptions,
    ) -> None:
        self._registry = registry
        self._store_factory = store_factory
        self._embedder = embedder
        self._sparse = sparse
        self._searcher = searcher
        self._index_options = index_options
        self._open: dict[str, _Open] = {}
        self._lock = threading.RLock()  # guards the handle table only, held briefly
        self._writers: dict[str, threading.Lock] = {}  # one in-process writer per project

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def index_options(self) -> IndexOptions:
        return self._index_options

    # ---------------------------------------------------------------- projects
    def _handle(self, project: Project) -> _Open:
        with self._lock:
            handle = self._open.get(project.name)
            if handle is None:
                manifest = Manifest(project.manifest_path)
                handle = _Open(project, self._store_factory(project), manifest)
                self._open[project.name] = handle
            return handle

    def _writer(self, name: str) -> threading.Lock:
        with self._lock:
            return self._writers.setdefault(name, threading.Lock())

    def _projects(self, tenants: Tenants) -> list[Project]:
        return [p for p in self._registry.list() if visible(p, tenants)]

    def _get(self, name: str, tenants: Tenants) -> Project:
        try:
            project = self._registry.get(name)
        except NotFoundError:
            if tenants is None:
                raise
            project = None
        if project is not None and visible(project, tenants):
            return project
        known = ", ".join(p.name for p in self._projects(tenants)) or "none"
        message = f"unknown project {name!r} (known: {known})"
        raise OutOfScopeError(message) if project is not None else NotFoundError(message)

    def check_access(self, name: str, tenants: Tenants) -> str | None:
        """The tenant of project ``name`` (None if it does not exist yet); refuses, as
        not found, a project that exists outside ``tenants``."""
        try:
            return self._get(name, tenants).tenant
        except OutOfScopeError:
            raise
        except NotFoundError:
            return None

    def check_root(self, root: Path, tenants: Tenants) -> None:
        """Refuse to index a folder that is, contains or lies inside another tenant's
        project root: that would copy its code into the caller's tenant."""
        if tenants is None or ALL_TENANTS in tenants:
            return
        for other in self._registry.list():
            if visible(other, tenants):
                continue
            if root == other.root or root in other.root.parents or other.root in root.parents:
                raise OutOfScopeError(f"cannot index {root}: it overlaps a project you cannot see")

    def resolve_project(
        self,
        name: str | None,
        cwd: Path | None = None,
        *,
        use_cwd: bool = True,
        tenants: Tenants = None,
    ) -> Project:
        """A named project, else the one containing ``cwd``, else the only one.

        With ``use_cwd=False`` (servers) the working directory is ignored. Only
        projects of ``tenants`` are considered.
        """
        if name:
            return self._get(name, tenants)
        projects = self._projects(tenants)
        if not projects:
            raise NotFoundError("no projects indexed yet; run 'codeweaver index PATH' first")
        if use_cwd:
            here = (cwd or Path.cwd()).resolve()
            inside = [p for p in projects if here == p.root or p.root in here.parents]
            if inside:
                return max(inside, key=lambda p: len(p.root.parts))
        if len(projects) == 1:
            return projects[0]
        names = ", ".join(p.name for p in projects)
        raise InputError(f"several projects exist ({names}); choose one with --project")

    def list_projects(self, tenants: Tenants = None) -> list[dict[str, Any]]:
        return [self._status(p) for p in self._projects(tenants)]

    def remove_project(self, name: str, tenants: Tenants = None) -> None:
        project = self._get(name, tenants)
        with self._writer(name), self._lock:
            handle = self._open.pop(name, None) or _Open(
                project, self._store_factory(project), Manifest(project.manifest_path)
            )
            handle.store.drop()
            handle.manifest.close()
            self._registry.remove(name)

    def indexed_paths(
        self, name: str | None = None, tenants: Tenants = None
    ) -> tuple[Project, list[str]]:
        """A project and the sorted relative paths its manifest knows."""
        project = self.resolve_project(name, use_cwd=False, tenants=tenants)
        handle = self._handle(project)
        if handle.paths is None:
            handle.paths = sorted(handle.manifest.files())
        return project, handle.paths

    # ------------------------------------------------------------------ index
    def index(
        self,
        path: str | Path,
        project: str | None = None,
        *,
        full: bool = False,
        on_progress: Callable[[Progress], None] | None = None,
        paths: Collection[str] | None = None,
        tenant: str = DEFAULT_TENANT,
        tenants: Tenants = None,
    ) -> IndexStats:
        """Incrementally index ``path``; ``paths`` (project-relative files or folders)
        restricts the change/deletion check to those, leaving every other file alone.

        A new project is created in ``tenant``; an existing one must be in ``tenants``.
        """
        root = resolve_root(path)
        name = project or default_project_name(root)
        self.check_access(name, tenants)
        self.check_root(root, tenants)
        project_obj = self._registry.ensure(name, root, tenant)
        handle = self._handle(project_obj)
        # Only this project's writer lock: searches (and other projects) keep running.
        with self._writer(project_obj.name), writer_lock(project_obj.folder, project_obj.name):
            indexer = Indexer(
                handle.store, self._embedder, self._sparse, handle.manifest, self._index_options
            )
            stats = indexer.run(
                root, project_obj.name, full=full, on_progress=on_progress, paths=paths
            )
            handle.paths = None
        return stats

    # ----------------------------------------------------------------- search
    def search(
        self,
        request: SearchRequest,
        project: str | None = None,
        params: FusionParams | None = None,
        tenants: Tenants = None,
    ) -> SearchResult:
        handle = self._handle(self.resolve_project(project, tenants=tenants))

        def known_paths() -> list[str]:
            if handle.paths is None:
                handle.paths = sorted(handle.manifest.files())
            return handle.paths

        return self._searcher.search(handle.store, request, known_paths, params)

    # ----------------------------------------------------------------- status
    def status(self, name: str | None = None, tenants: Tenants = None) -> dict[str, Any]:
        return self._status(self.resolve_project(name, tenants=tenants))

    def _status(self, project: Project) -> dict[str, Any]:
        handle = self._handle(project)
        meta = handle.manifest.meta()
        files = handle.manifest.files()
        failures = handle.manifest.failures()
        return {
            "project": project.name,
            "tenant": project.tenant,
            "root": str(project.root),
            "files": len(files),
            "chunks": sum(r.chunks for r in files.values()),
            "points": handle.store.count(),
            "failures": [{"path": p, "reason": r} for p, r in failures],
            "skipped": meta.get("skipped_count", 0),
            "last_run_at": meta.get("last_run_at"),
            "last_run_seconds": meta.get("last_run_seconds"),
            "commit": meta.get("last_commit"),
            "state": meta.get("run_state", "never indexed"),
            "model": meta.get("model_id"),
            "dim": meta.get("dim"),
        }

    def close(self) -> None:
        with self._lock:
            for handle in self._open.values():
                handle.store.close()
                handle.manifest.close()
            self._open.clear()
