"""Background index jobs: a small thread pool, one writer per project.

A job for a project that is already being indexed waits in the queue until the
running one finishes. Each job's folder is admitted by the engine's root policy when
it is submitted and again when it runs; each tenant may have at most ``max_queued``
jobs waiting (more are refused with ``RateLimitedError``). Stopping refuses new jobs,
asks running jobs to stop at their next progress report (the indexer is crash-safe, so
an interrupted run resumes cleanly next time) and joins the workers with a timeout.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from codeweaver.engine import Engine, Tenants, visible
from codeweaver.errors import (
    CodeWeaverError,
    IndexingError,
    InputError,
    NotFoundError,
    OutOfScopeError,
    RateLimitedError,
)
from codeweaver.index.pipeline import Progress
from codeweaver.index.projects import DEFAULT_TENANT, Project
from codeweaver.index.roots import Caller, LocalCaller
from codeweaver.types import IndexStats

__all__ = ["Job", "JobManager", "JobState"]

JobState = Literal["queued", "running", "succeeded", "failed"]
log = logging.getLogger("codeweaver.jobs")
_MAX_FINISHED = 1000
QUEUE_RETRY_AFTER = 10.0  # seconds a caller refused for a full queue is told to wait


class _Stopping(Exception):
    """Raised from the progress callback to end a run at shutdown."""


@dataclass(slots=True)
class Job:
    id: str
    project: str
    root: Path
    full: bool
    tenant: str = DEFAULT_TENANT
    state: JobState = "queued"
    files_done: int = 0
    files_total: int = 0
    chunks: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    stats: dict[str, Any] | None = None
    caller: Caller = field(default_factory=LocalCaller)
    result: IndexStats | None = None
    failure: CodeWeaverError | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.id,
            "project": self.project,
            "root": str(self.root),
            "full": self.full,
            "tenant": self.tenant,
            "state": self.state,
            "files_done": self.files_done,
            "files_total": self.files_total,
            "chunks": self.chunks,
            "errors": list(self.errors),
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "stats": self.stats,
        }


class JobManager:
    def __init__(self, engine: Engine, workers: int = 2, max_queued: int = 8) -> None:
        self._engine = engine
        self._workers = max(1, workers)
        self._max_queued = max(1, max_queued)
        self._jobs: dict[str, Job] = {}
        self._queue: list[Job] = []
        self._busy: set[str] = set()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        with self._cond:
            self._stopping = False
            for i in range(self._workers - len(self._threads)):
                t = threading.Thread(target=self._loop, name=f"codeweaver-job-{i}", daemon=True)
                t.start()
                self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> bool:
        """Refuse new jobs, interrupt running ones, join; True if all workers ended."""
        with self._cond:
            self._stopping = True
            for job in self._queue:
                self._finish(job, "failed", "server shut down before the job started")
            self._queue.clear()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in self._threads if t.is_alive()]
        self._threads = alive
        return not alive

    # -------------------------------------------------------------------- jobs
    def submit(
        self,
        path: str,
        project: str | None = None,
        *,
        full: bool = False,
        tenant: str = DEFAULT_TENANT,
        tenants: Tenants = None,
        caller: Caller | None = None,
    ) -> Job:
        """Queue a job for ``caller`` (default: the local user in ``tenant``, limited to
        ``tenants``); the engine admits the folder and the project name first."""
        who = caller or LocalCaller(tenant, tenants)
        try:
            root, name, owner = self._engine.admit(path, project, who)
        except (ValueError, OSError) as exc:  # NUL bytes, over-long names …
            raise InputError(f"invalid path {path!r}: {exc}") from exc
        job = Job(id=uuid.uuid4().hex, project=name, root=root, full=full, tenant=owner)
        job.caller = who
        with self._cond:
            if self._stopping:
                raise InputError("the server is shutting down; not accepting index jobs")
            waiting = sum(1 for j in self._queue if j.tenant == owner)
            if waiting >= self._max_queued:
                raise RateLimitedError(
                    f"tenant {owner!r} already has {waiting} index jobs waiting "
                    f"(index.max_queued_jobs); retry when they have started",
                    retry_after=QUEUE_RETRY_AFTER,
                )
            self._jobs[job.id] = job
            self._queue.append(job)
            self._prune()
            self._cond.notify_all()
        return job

    def run(
        self, path: str, project: str | None = None, *, caller: Caller, full: bool = False
    ) -> IndexStats:
        """Submit a job and wait for it: its stats, or the error that failed it."""
        job = self.submit(path, project, full=full, caller=caller)
        with self._cond:
            while job.state not in ("succeeded", "failed"):
                self._cond.wait()
        if job.result is not None:
            return job.result
        if job.failure is not None:
            raise job.failure
        reason = job.errors[-1]["reason"] if job.errors else "index job failed"
        raise IndexingError(reason)

    def get(self, job_id: str, tenants: Tenants = None) -> dict[str, Any]:
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFoundError(f"unknown job {job_id!r}")
            scope = Project(name=job.project, root=job.root, folder=job.root, tenant=job.tenant)
            if not visible(scope, tenants):
                raise OutOfScopeError(f"unknown job {job_id!r}")
            return job.as_dict()

    def recent(self, tenants: Tenants = None, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` jobs the caller may see (queued, running or finished)."""
        with self._cond:
            jobs = sorted(self._jobs.values(), key=lambda j: j.created_at, reverse=True)
            seen = [
                j.as_dict()
                for j in jobs
                if visible(
                    Project(name=j.project, root=j.root, folder=j.root, tenant=j.tenant), tenants
                )
            ]
        return seen[:limit]

    def active_projects(self) -> set[str]:
        with self._cond:
            return set(self._busy)

    # ------------------------------------------------------------------ worker
    def _next(self) -> Job | None:
        with self._cond:
            while True:
                if self._stopping:
                    return None
                for job in self._queue:
                    if job.project not in self._busy:
                        self._queue.remove(job)
                        self._busy.add(job.project)
                        job.state = "running"
                        job.started_at = time.time()
                        return job
                self._cond.wait()

    def _loop(self) -> None:
        while (job := self._next()) is not None:
            try:
                self._run(job)
            finally:
                with self._cond:
                    self._busy.discard(job.project)
                    self._cond.notify_all()

    def _run(self, job: Job) -> None:
        def progress(p: Progress) -> None:
            if self._stopping:
                raise _Stopping
            job.files_done, job.files_total, job.chunks = p.files_done, p.files_total, p.chunks_done

        try:
            stats = self._engine.index(
                job.root,
                job.project,
                full=job.full,
                on_progress=progress,
                caller=job.caller,
            )
        except _Stopping:
            self._finish(job, "failed", "interrupted by server shutdown; re-run to resume")
        except CodeWeaverError as exc:
            job.failure = exc
            self._finish(job, "failed", str(exc))
        except Exception as exc:  # a job must never take its worker down
            log.exception("index job %s failed", job.id)
            self._finish(job, "failed", f"unexpected error: {type(exc).__name__}: {exc}")
        else:
            job.result = stats
            job.files_done = job.files_total = stats.files_total
            job.chunks = stats.chunks_total
            job.errors = [{"path": p, "reason": r} for p, r in stats.failures]
            job.stats = {
                k: v
                for k, v in stats.as_dict().items()
                if k not in ("project", "files_total", "failures")
            }
            self._finish(job, "succeeded")

    @staticmethod
    def _finish(job: Job, state: JobState, error: str | None = None) -> None:
        if error is not None:
            job.errors.append({"path": "", "reason": error})
        job.finished_at = time.time()
        job.state = state

    def _prune(self) -> None:
        done = [j for j in self._jobs.values() if j.state in ("succeeded", "failed")]
        for job in sorted(done, key=lambda j: j.created_at)[: max(0, len(done) - _MAX_FINISHED)]:
            del self._jobs[job.id]
