"""The application service every edge calls: index, search, status, projects.

Written against the Protocols; ``container.build_engine`` wires the real adapters.

Tenant isolation lives here, where projects are looked up: every call takes the
caller's ``tenants`` (``None``, or a collection holding ``"*"``, means all of them).
A project of another tenant is reported exactly like an unknown one
(``OutOfScopeError``, a ``NotFoundError``), and listings never show it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from codeweaver.errors import CodeWeaverError, InputError, NotFoundError, OutOfScopeError
from codeweaver.index.files import ProjectFiles
from codeweaver.index.lock import HomeInUse, writer_lock
from codeweaver.index.manifest import Manifest
from codeweaver.index.pipeline import Indexer, IndexOptions, Progress, model_mismatch
from codeweaver.index.projects import (
    DEFAULT_TENANT,
    Project,
    ProjectRegistry,
    default_project_name,
    validate_project_name,
)
from codeweaver.index.roots import Caller, LocalCaller, RootPolicy, is_remote, refuse_path
from codeweaver.search.cache_set import CacheSet
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

__all__ = [
    "ALL_TENANTS",
    "Engine",
    "StoreFactory",
    "Tenants",
    "sees_all",
    "tenant_visible",
    "visible",
]

StoreFactory = Callable[[Project], VectorStore]
Tenants = Collection[str] | None
ALL_TENANTS = "*"
log = logging.getLogger("codeweaver.engine")


def sees_all(tenants: Tenants) -> bool:
    """Whether a caller limited to ``tenants`` sees every tenant."""
    return tenants is None or ALL_TENANTS in tenants


def visible(project: Project, tenants: Tenants) -> bool:
    """Whether a caller limited to ``tenants`` may see ``project``."""
    return tenant_visible(project.tenant, tenants)


def tenant_visible(tenant: str, tenants: Tenants) -> bool:
    """Whether a caller limited to ``tenants`` may see data of ``tenant``."""
    return tenants is None or ALL_TENANTS in tenants or tenant in tenants


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
        caches: CacheSet | None = None,
        roots: RootPolicy | None = None,
    ) -> None:
        self._registry = registry
        self._roots = roots or RootPolicy(registry.home)
        self._in_use = HomeInUse(registry.home)  # a restore waits until this engine closes
        self._store_factory = store_factory
        self._embedder = embedder
        self._sparse = sparse
        self._searcher = searcher
        # discovery never reads the locations the root policy protects
        guarded = tuple(dict.fromkeys((*index_options.protected, *self._roots.protected)))
        self._index_options = replace(index_options, protected=guarded)
        self._caches = caches or CacheSet()
        # indexing and warming go through the embedding cache; health probes do not
        self._cached_embedder = self._caches.embedder or embedder
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
        project root: that would copy its code into the caller's tenant. The refusal is
        the one answer to any refused path, so it tells nothing about that project."""
        if tenants is None or ALL_TENANTS in tenants:
            return
        for other in self._registry.list():
            if visible(other, tenants):
                continue
            if root == other.root or root in other.root.parents or other.root in root.parents:
                raise refuse_path(f"{root} overlaps the root of a project of another tenant")

    def admit(self, path: str | Path, project: str | None, caller: Caller) -> tuple[Path, str, str]:
        """``(root, project name, owning tenant)`` for ``caller`` to index ``path``, or the
        refusal: the root policy (see ``index.roots``), then the name, then overlaps."""
        root = self._roots.admit(path, caller)
        name = validate_project_name(project) if project else default_project_name(root)
        try:
            owner = self.check_access(name, caller.tenants) or caller.tenant
        except OutOfScopeError:
            if not is_remote(caller):
                raise
            raise OutOfScopeError(
                f"project name {name!r} is not available; choose another name",
                reason=f"project name {name!r} belongs to another tenant",
            ) from None
        self.check_root(root, caller.tenants)
        return root, name, owner

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

    def project_files(
        self, name: str | None, tenants: Tenants = None, *, use_cwd: bool = False
    ) -> ProjectFiles:
        """The indexed files of a project the caller may see, read by the one set of
        path rules every edge uses (see ``index.files``)."""
        project = self.resolve_project(name, use_cwd=use_cwd, tenants=tenants)
        _, paths = self.indexed_paths(project.name, tenants)
        return ProjectFiles(
            project, paths, self._roots.protected, self._index_options.max_file_bytes
        )

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
        caller: Caller | None = None,
    ) -> IndexStats:
        """Incrementally index ``path``; ``paths`` (project-relative files or folders)
        restricts the change/deletion check to those, leaving every other file alone.

        ``caller`` (default: the local user in ``tenant``, limited to ``tenants``) must
        be admitted by ``admit``; a new project is created in its tenant.
        """
        who = caller or LocalCaller(tenant, tenants)
        root, name, owner = self.admit(path, project, who)
        project_obj = self._registry.ensure(name, root, owner)
        handle = self._handle(project_obj)
        # Only this project's writer lock: searches (and other projects) keep running.
        try:
            with self._writer(project_obj.name), writer_lock(project_obj.folder, project_obj.name):
                indexer = Indexer(
                    handle.store,
                    self._cached_embedder,
                    self._sparse,
                    handle.manifest,
                    self._index_options,
                )
                stats = indexer.run(
                    root, project_obj.name, full=full, on_progress=on_progress, paths=paths
                )
                handle.paths = None
        except Exception as exc:
            _notify(self.index_listeners, IndexEvent(project_obj.name, None, exc))
            raise
        _notify(self.index_listeners, IndexEvent(project_obj.name, stats))
        changed = stats.files_indexed or stats.files_deleted or stats.failures or full
        # whole-project runs only: a watcher re-indexing on every save would re-warm each time
        if changed and paths is None and self._caches.warm_after_index:
            self._warm_quietly(project_obj.name)
        return stats

    # ----------------------------------------------------------------- search
    def search(
        self,
        request: SearchRequest,
        project: str | None = None,
        params: FusionParams | None = None,
        *,
        use_cwd: bool = True,
        tenants: Tenants = None,
        tenant: str | None = None,
    ) -> SearchResult:
        """Search one project the caller (limited to ``tenants``) may see. Finished
        results are cached under ``tenant`` (default: the project's own tenant; with the
        configured fusion only) until the project is re-indexed or the TTL passes.
        Listeners hear of every search, answered or failed."""
        started = time.perf_counter()
        name = project or ""
        try:
            project_obj = self.resolve_project(project, use_cwd=use_cwd, tenants=tenants)
            name = project_obj.name
            key_tenant = tenant or project_obj.tenant
            result = self._search(request, project_obj, params, key_tenant, record=True)
        except Exception as exc:
            if self.search_listeners:
                event = SearchEvent(
                    name,
                    query_type_of(request.query),
                    0,
                    time.perf_counter() - started,
                    exc,
                )
                _notify(self.search_listeners, event)
            raise
        if self.search_listeners:
            event = SearchEvent(
                name,
                result.query_type,
                len(result.hits),
                time.perf_counter() - started,
            )
            _notify(self.search_listeners, event)
        return result

    def _search(
        self,
        request: SearchRequest,
        project_obj: Project,
        params: FusionParams | None,
        tenant: str,
        *,
        record: bool,
    ) -> SearchResult:
        started = time.perf_counter()
        handle = self._handle(project_obj)
        self._check_model(handle)
        caches = self._caches
        popular = caches.popular if record else None

        def counted() -> None:
            if popular is not None:
                popular.record(tenant, project_obj.name, request)

        key = None
        if caches.results is not None and params is None:
            version = str(handle.manifest.get("index_version", ""))
            key = caches.results.key(tenant, project_obj.name, version, request)
            cached = caches.results.get(key)
            if cached is not None:
                counted()
                return replace(cached, took_ms=round((time.perf_counter() - started) * 1e3, 3))

        def known_paths() -> list[str]:
            if handle.paths is None:
                handle.paths = sorted(handle.manifest.files())
            return handle.paths

        result = self._searcher.search(handle.store, request, known_paths, params)
        counted()  # only searches that ran count as popular
        if key is not None and caches.results is not None:
            caches.results.put(key, result)
        return result

    def _check_model(self, handle: _Open) -> None:
        model = handle.manifest.get("model_id")
        dim = handle.manifest.get("dim")
        if model is not None and (model != self._embedder.model_id or dim != self._embedder.dim):
            raise InputError(
                f"project {handle.project.name}: " + model_mismatch(model, dim, self._embedder)
            )

    # ------------------------------------------------------------------ caches
    def cache_stats(self) -> dict[str, dict[str, int]]:
        """``{"embedding"|"results": {"hits", "misses", "size_bytes", "entries"}}``."""
        return self._caches.stats()

    def cache_health(self) -> tuple[str, str]:
        return self._caches.health()

    def cache_report(self, top: int = 10, tenants: Tenants = None) -> dict[str, Any]:
        """Counts of this process, the shared cache's state and the top searches of each
        project of ``tenants`` (only those searches made in ``tenants``)."""
        popular = self._caches.popular

        def searches(name: str) -> list[dict[str, Any]]:
            rows = popular.report(name, top) if popular else []
            return [r for r in rows if tenant_visible(str(r["tenant"]), tenants)]

        return {
            "stats": self.cache_stats(),
            "shared": self._caches.shared_info(),
            "popular": {p.name: searches(p.name) for p in self._projects(tenants)},
        }

    def clear_cache(self, project: str | None = None) -> dict[str, int]:
        if project is not None:
            self._registry.get(project)
        return self._caches.clear(project)

    def warm_cache(self, project: str | None = None, top_n: int | None = None) -> dict[str, int]:
        """Re-run the most popular searches (of every tenant) of one project, or of every
        project, and pre-embed the configured common phrases."""
        caches = self._caches
        n = caches.warm_top_n if top_n is None else top_n
        names = [project] if project else [p.name for p in self._registry.list()]
        searches = 0
        for name in names:
            if caches.popular is None or n <= 0:
                break
            for tenant, request in caches.popular.top(name, n):
                try:
                    self._search(request, self._registry.get(name), None, tenant, record=False)
                    searches += 1
                except CodeWeaverError as exc:  # e.g. a glob that no longer parses
                    log.info("warming skipped %r: %s", request.query, exc)
        phrases = 0
        for phrase in caches.warm_phrases:
            self._cached_embedder.embed_query(phrase)
            phrases += 1
        return {"projects": len(names), "searches": searches, "phrases": phrases}

    def _warm_quietly(self, project: str) -> None:
        try:
            self.warm_cache(project)
        except CodeWeaverError as exc:
            log.warning("cache warming after indexing %s failed: %s", project, exc)

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
            "storage": handle.store.storage_config(),
        }

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Close every store and let go of the data directory while the body runs (a
        restore run by the owner swaps the files); other calls wait meanwhile, and the
        stores reopen afterwards, with the result caches cleared."""
        with self._lock:
            self._close_stores()
            self._in_use.release()
            try:
                yield
            finally:
                self._in_use = HomeInUse(self._registry.home)
                self._caches.clear(None)

    def close(self) -> None:
        self._caches.close()
        closer = getattr(self._embedder, "close", None)  # remote providers hold connections
        if callable(closer):
            closer()
        with self._lock:
            self._close_stores()
        self._in_use.release()

    def _close_stores(self) -> None:
        """Close every open project's store and manifest (the caller holds the lock)."""
        for handle in self._open.values():
            handle.store.close()
            handle.manifest.close()
        self._open.clear()


def _notify(listeners: list[Any], event: Any) -> None:
    for listener in list(listeners):
        try:
            listener(event)
        except Exception:  # an observer's failure never changes the outcome
            log.exception("search/index listener failed")
