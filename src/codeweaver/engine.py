"""The application service every edge calls: index, search, status, projects.

Written against the Protocols; ``container.build_engine`` wires the real adapters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeweaver.errors import InputError, NotFoundError
from codeweaver.index.discovery import resolve_root
from codeweaver.index.lock import writer_lock
from codeweaver.index.manifest import Manifest
from codeweaver.index.pipeline import Indexer, IndexOptions, Progress
from codeweaver.index.projects import Project, ProjectRegistry, default_project_name
from codeweaver.search.events import IndexListener, SearchListener, query_type_of
from codeweaver.search.service import FusionParams, SearchRequest, SearchResult, SearchService
from codeweaver.types import (
    Embedder,
    IndexEvent,
    IndexStats,
    SearchEvent,
    SparseEncoder,
    VectorStore,
)

__all__ = ["Engine", "StoreFactory"]

StoreFactory = Callable[[Project], VectorStore]


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
        # observers (metrics, logs) told about every search and indexing run
        self.search_listeners: list[SearchListener] = []
        self.index_listeners: list[IndexListener] = []

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

    def resolve_project(
        self, name: str | None, cwd: Path | None = None, *, use_cwd: bool = True
    ) -> Project:
        """A named project, else the one containing ``cwd``, else the only one.

        With ``use_cwd=False`` (servers) the working directory is ignored.
        """
        if name:
            return self._registry.get(name)
        projects = self._registry.list()
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

    def list_projects(self) -> list[dict[str, Any]]:
        return [self.status(p.name) for p in self._registry.list()]

    def remove_project(self, name: str) -> None:
        project = self._registry.get(name)
        with self._writer(name), self._lock:
            handle = self._open.pop(name, None) or _Open(
                project, self._store_factory(project), Manifest(project.manifest_path)
            )
            handle.store.drop()
            handle.manifest.close()
            self._registry.remove(name)

    def indexed_paths(self, name: str | None = None) -> tuple[Project, list[str]]:
        """A project and the sorted relative paths its manifest knows."""
        project = self.resolve_project(name, use_cwd=False)
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
    ) -> IndexStats:
        """Incrementally index ``path``; ``paths`` (project-relative files or folders)
        restricts the change/deletion check to those, leaving every other file alone."""
        root = resolve_root(path)
        project_obj = self._registry.ensure(project or default_project_name(root), root)
        handle = self._handle(project_obj)
        # Only this project's writer lock: searches (and other projects) keep running.
        try:
            with self._writer(project_obj.name), writer_lock(project_obj.folder, project_obj.name):
                indexer = Indexer(
                    handle.store, self._embedder, self._sparse, handle.manifest, self._index_options
                )
                stats = indexer.run(
                    root, project_obj.name, full=full, on_progress=on_progress, paths=paths
                )
                handle.paths = None
        except Exception as exc:
            _notify(self.index_listeners, IndexEvent(project_obj.name, None, exc))
            raise
        _notify(self.index_listeners, IndexEvent(project_obj.name, stats))
        return stats

    # ----------------------------------------------------------------- search
    def search(
        self,
        request: SearchRequest,
        project: str | None = None,
        params: FusionParams | None = None,
        *,
        use_cwd: bool = True,
    ) -> SearchResult:
        started = time.perf_counter()
        name = project or ""
        try:
            handle = self._handle(self.resolve_project(project, use_cwd=use_cwd))
            name = handle.project.name

            def known_paths() -> list[str]:
                if handle.paths is None:
                    handle.paths = sorted(handle.manifest.files())
                return handle.paths

            result = self._searcher.search(handle.store, request, known_paths, params)
        except Exception as exc:
            if self.search_listeners:
                event = SearchEvent(
                    name, query_type_of(request.query), 0, time.perf_counter() - started, exc
                )
                _notify(self.search_listeners, event)
            raise
        if self.search_listeners:
            event = SearchEvent(
                name, result.query_type, len(result.hits), time.perf_counter() - started
            )
            _notify(self.search_listeners, event)
        return result

    # ----------------------------------------------------------------- status
    def status(self, name: str | None = None) -> dict[str, Any]:
        project = self.resolve_project(name)
        handle = self._handle(project)
        meta = handle.manifest.meta()
        files = handle.manifest.files()
        failures = handle.manifest.failures()
        return {
            "project": project.name,
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


def _notify(listeners: list[Any], event: Any) -> None:
    for listener in list(listeners):
        try:
            listener(event)
        except Exception:  # an observer's failure never changes the outcome
            logging.getLogger("codeweaver.engine").exception("search/index listener failed")
