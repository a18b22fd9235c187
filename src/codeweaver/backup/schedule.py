"""Scheduled backups inside ``serve``: every ``interval`` seconds run one backup job
(back up, verify, prune; the caller decides how, e.g. in a child process)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from codeweaver.errors import CodeWeaverError

__all__ = ["BackupScheduler"]

log = logging.getLogger("codeweaver.backup")


class BackupScheduler:
    """A daemon thread; ``stop()`` wakes it and waits for a running backup to finish."""

    def __init__(
        self,
        job: Callable[[], dict[str, Any]],
        interval: float,
        *,
        on_result: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._job = job
        self._interval = interval
        self._on_result = on_result
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="codeweaver-backup", daemon=True)
        self.runs = 0
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        self._stop.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def run_once(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        try:
            result = self._job()
        except CodeWeaverError as exc:
            result["ok"] = False
            result["error"] = str(exc)
        except Exception as exc:  # a scheduler thread must survive anything
            log.exception("scheduled backup crashed")
            result["ok"] = False
            result["error"] = f"{type(exc).__name__}: {exc}"
        return result

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            result = self.run_once()
            self.runs += 1
            if not result["ok"]:
                self.failures += 1
                log.error("scheduled backup failed: %s", result.get("error") or result)
            else:
                log.info("scheduled backup %s done", result["backup"]["backup_id"])
            if self._on_result is not None:
                self._on_result(result)
