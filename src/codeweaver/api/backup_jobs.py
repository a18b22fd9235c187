"""Backups started over HTTP run as jobs: the request answers at once with a job id, and
``GET /api/v1/admin/backups/jobs/{id}`` reports the state and, once done, the result.

One backup runs at a time per server; the last ``KEEP`` jobs are remembered (in memory:
a restart forgets them, the backups themselves are listed from the destination).
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from codeweaver.errors import BackupError, CodeWeaverError, NotFoundError

__all__ = ["BackupJob", "BackupJobs"]

KEEP = 50
JobState = Literal["running", "succeeded", "failed"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(slots=True)
class BackupJob:
    job_id: str
    started_at: str
    state: JobState = "running"
    finished_at: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "job_id": self.job_id,
            "state": self.state,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }
        if self.result is not None:
            out["result"] = self.result
        if self.error is not None:
            out["error"] = self.error
        return out


class BackupJobs:
    """Runs ``run()`` in a thread per job; ``on_done(job)`` is called when it ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, BackupJob] = OrderedDict()
        self._running: BackupJob | None = None

    def submit(
        self, run: Callable[[], dict[str, Any]], on_done: Callable[[BackupJob], None]
    ) -> BackupJob:
        with self._lock:
            if self._running is not None:
                raise BackupError(
                    f"a backup is already running (job {self._running.job_id}); try again later"
                )
            job = BackupJob(f"bkj_{secrets.token_hex(8)}", _now())
            self._running = job
            self._jobs[job.job_id] = job
            while len(self._jobs) > KEEP:
                self._jobs.popitem(last=False)
        threading.Thread(
            target=self._run, args=(job, run, on_done), name=f"backup-{job.job_id}", daemon=True
        ).start()
        return job

    def get(self, job_id: str) -> BackupJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no backup job {job_id!r}")
        return job

    def _run(
        self,
        job: BackupJob,
        run: Callable[[], dict[str, Any]],
        on_done: Callable[[BackupJob], None],
    ) -> None:
        try:
            result = run()
            failed = "verification" in result and not result["verification"]["ok"]
            job.result, job.state = result, ("failed" if failed else "succeeded")
            if failed:
                job.error = "; ".join(result["verification"]["problems"]) or "verification failed"
        except CodeWeaverError as exc:
            job.state, job.error = "failed", str(exc)
        except Exception as exc:  # a crashed child process, an unexpected bug
            job.state, job.error = "failed", f"backup failed: {type(exc).__name__}: {exc}"
        finally:
            job.finished_at = _now()
            with self._lock:
                self._running = None
            on_done(job)
