"""Watch mode: keep a project's index current while its files change.

``watchfiles`` (inotify / FSEvents / ReadDirectoryChangesW) reports changed paths. A
batch closes once no new change has arrived for ``debounce_ms`` (so a ``git checkout``
touching 500 files is one batch, not 500), capped at ``max_batch_ms``. Changes inside
``.git/`` are dropped at once; the rest go through the same ignore rules as discovery
(``.gitignore``, configured excludes), and a batch left empty indexes nothing. What is
left is re-indexed incrementally, restricted to those paths: only they are stat'ed and
re-hashed, the rest of the project is not touched. Editors' atomic saves (write a temp
file, rename it over the original) need nothing special: every path is judged by what
is on disk when the batch runs, so the temp file is gone and the target has changed.
A changed ``.gitignore`` or a very large batch re-checks the whole project instead.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from codeweaver.engine import Engine
from codeweaver.errors import CodeWeaverError
from codeweaver.index.discovery import resolve_root
from codeweaver.index.partial import ignored_paths, is_vcs_path
from codeweaver.index.projects import default_project_name
from codeweaver.types import IndexStats

__all__ = ["WatchBatch", "Watcher"]

log = logging.getLogger(__name__)

_IDLE_MS = 500  # how often an idle watcher wakes up (stop requests, retries)


@dataclass(frozen=True, slots=True)
class WatchBatch:
    """One re-index the watcher ran: the changed paths (empty = whole project checked)."""

    paths: tuple[str, ...]
    stats: IndexStats
    seconds: float

    @property
    def full(self) -> bool:
        return not self.paths


class _Either:
    """Set when any of the events is set (``watchfiles`` polls ``is_set``)."""

    def __init__(self, *events: threading.Event | None) -> None:
        self._events = [e for e in events if e is not None]

    def is_set(self) -> bool:
        return any(e.is_set() for e in self._events)


class Watcher:
    """Watches ``root`` and re-indexes it into ``project`` after each burst of changes.

    ``run_forever`` blocks until ``stop()`` (or the given event) is called; ``start``
    runs it in a daemon thread. With ``catch_up`` the first thing it does once watching
    is one incremental pass over the whole project, so nothing changed between an
    earlier ``index`` and the start of watching is missed. ``ready`` is set after that.
    """

    def __init__(
        self,
        engine: Engine,
        root: str | Path,
        project: str | None = None,
        *,
        debounce_ms: int = 300,
        on_batch: Callable[[WatchBatch], None] | None = None,
        max_batch_ms: int = 10_000,
        catch_up: bool = True,
        full_above: int = 2_000,
    ) -> None:
        if debounce_ms < 1 or max_batch_ms < debounce_ms:
            raise ValueError("need 1 <= debounce_ms <= max_batch_ms")
        self._engine = engine
        self._root = resolve_root(root)
        self._project = project or default_project_name(self._root)
        self._debounce_ms = debounce_ms
        self._max_batch_ms = max_batch_ms
        self._on_batch = on_batch
        self._catch_up = catch_up
        self._full_above = full_above
        self._stop = threading.Event()
        self._pending: set[str] = set()
        self._need_full = False
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()
        self.batches = 0
        self.error: BaseException | None = None

    @property
    def root(self) -> Path:
        return self._root

    @property
    def project(self) -> str:
        return self._project

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        """Run ``run_forever`` in a daemon thread; returns at once (see ``ready``)."""
        if self._thread is not None:
            raise RuntimeError("watcher already started")
        self._thread = threading.Thread(target=self._thread_main, name="codeweaver-watch")
        self._thread.daemon = True
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the loop to end (after the batch in progress) and wait for a started thread."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _thread_main(self) -> None:
        try:
            self.run_forever()
        except BaseException as exc:  # surfaced through .error; the thread must not die loudly
            self.error = exc
            log.exception("watcher stopped by an error")
        finally:
            self.ready.set()

    def run_forever(self, stop_event: threading.Event | None = None) -> None:
        """Watch until ``stop()`` is called or ``stop_event`` is set."""
        stopping = _Either(self._stop, stop_event)
        changes = watchfiles.watch(
            self._root,
            watch_filter=self._wanted,
            debounce=self._max_batch_ms,
            step=self._debounce_ms,
            stop_event=stopping,
            rust_timeout=_IDLE_MS,
            yield_on_timeout=True,
            raise_interrupt=False,
        )
        first, self._need_full = True, self._catch_up
        try:
            for batch in changes:
                if self._need_full:  # watching now: one full pass closes the gap before it
                    self._pending.clear()
                    self._need_full = not self._run(None)
                elif not stopping.is_set():
                    self._pending.update(self._relevant(batch))
                    if self._pending:
                        self._flush()
                if first:
                    first = False
                    self.ready.set()
        finally:
            changes.close()

    # ------------------------------------------------------------------ batches
    def _wanted(self, _change: watchfiles.Change, path: str) -> bool:
        """Cheap first filter (runs per event): nothing inside VCS folders, not the root."""
        rel = self._rel(path)
        return rel is not None and not is_vcs_path(rel)

    def _rel(self, path: str) -> str | None:
        try:
            rel = Path(path).relative_to(self._root).as_posix()
        except ValueError:
            return None
        return None if rel in ("", ".") else rel

    def _relevant(self, batch: Iterable[tuple[watchfiles.Change, str]]) -> list[str]:
        rels = set()
        for change, path in batch:
            if change == watchfiles.Change.modified and os.path.isdir(path):
                continue  # a folder's own metadata; its files report themselves
            rel = self._rel(path)
            if rel is not None:
                rels.add(rel)
        if not rels:
            return []
        opts = self._engine.index_options
        drop = ignored_paths(self._root, sorted(rels), exclude=opts.exclude, use_git=opts.use_git)
        return sorted(rels - drop)

    def _flush(self) -> None:
        paths = sorted(self._pending)
        self._pending.clear()
        full = len(paths) > self._full_above or any(
            p.rsplit("/", 1)[-1] == ".gitignore" for p in paths
        )
        if not self._run(None if full else paths):  # e.g. another process holds the index
            self._pending.update(paths)  # retried on the next wake-up

    def _run(self, paths: list[str] | None) -> bool:
        started = time.perf_counter()
        try:
            stats = self._engine.index(self._root, self._project, paths=paths)
        except CodeWeaverError as exc:
            log.warning("re-index of %s failed: %s", self._project, exc)
            return False
        self.batches += 1
        if self._on_batch is not None:
            self._on_batch(WatchBatch(tuple(paths or ()), stats, time.perf_counter() - started))
        return True
