"""Rendering for the CLI: rich on a terminal, plain JSON for scripts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from codeweaver.cli.fast import print_json
from codeweaver.cli.hits import DEGRADED, Line, search_lines

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

__all__ = [
    "error",
    "index_progress",
    "index_summary",
    "info",
    "print_json",
    "projects",
    "search_results",
    "status",
]

_consoles: dict[str, Console] = {}


def _console(name: str) -> Console:
    """``out`` or ``err``, made on first use (rich loads only when something prints)."""
    if name not in _consoles:
        from rich.console import Console as RichConsole

        _consoles[name] = RichConsole(stderr=name == "err", highlight=False, soft_wrap=True)
    return _consoles[name]


def __getattr__(name: str) -> Console:
    if name in ("out", "err"):
        return _console(name)
    raise AttributeError(name)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def error(message: str) -> None:
    _console("err").print(f"[bold red]error:[/] {escape(message)}")


def info(message: str) -> None:
    _console("out").print(escape(message))


class IndexProgress(Protocol):
    @property
    def files_done(self) -> int: ...
    @property
    def files_total(self) -> int: ...
    @property
    def chunks_done(self) -> int: ...


@contextmanager
def index_progress(enabled: bool) -> Iterator[Callable[[IndexProgress], None]]:
    if not enabled or not _console("err").is_terminal:
        yield lambda _p: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[chunks]} chunks · {task.fields[rate]} chunks/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    started = time.perf_counter()
    with Progress(*columns, console=_console("err"), transient=True) as bar:
        task = bar.add_task("index", total=None, chunks=0, rate="-")

        def update(p: IndexProgress) -> None:
            rate = p.chunks_done / max(time.perf_counter() - started, 1e-6)
            bar.update(
                task,
                total=p.files_total,
                completed=p.files_done,
                chunks=p.chunks_done,
                rate=f"{rate:.0f}",
            )

        yield update


def index_summary(stats: dict[str, Any]) -> None:
    """An indexing run in the shape of ``IndexStats.as_dict``."""
    s = stats
    rate = s["chunks_added"] / s["seconds"] if s["seconds"] > 0 else 0.0
    _console("out").print(
        f"[bold]{escape(s['project'])}[/]: {s['files_total']} files "
        f"({s['files_indexed']} indexed, {s['files_unchanged']} unchanged, "
        f"{s['files_deleted']} removed), {s['chunks_added']} chunks added "
        f"({s['chunks_total']} total) in {s['seconds']:.1f}s ({rate:.0f} chunks/s)"
    )
    for item in s["failures"]:
        _console("err").print(
            f"[yellow]skipped[/] {escape(item['path'])}: {escape(item['reason'])}"
        )


def _styled(line: Line) -> Text:
    from rich.text import Text as RichText

    return RichText.assemble(*line)


def search_results(body: dict[str, Any]) -> None:
    """A search answer in the shape the engine's edges return (see ``hits``)."""
    if body.get("degraded"):
        _console("err").print(_styled(DEGRADED))
    for line in search_lines(body):
        _console("out").print(_styled(line))


def _when(ts: float | None) -> str:
    if not ts:
        return "never"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def status(info_: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for key in ("project", "root", "files", "chunks", "points", "skipped", "state", "model"):
        table.add_row(key, escape(str(info_.get(key))))
    table.add_row("last run", _when(info_.get("last_run_at")))
    table.add_row("commit", escape(str(info_.get("commit") or "-")))
    table.add_row("failures", str(len(info_["failures"])))
    for key, value in _storage_rows(info_.get("storage") or {}):
        table.add_row(key, escape(value))
    _console("out").print(table)
    for item in info_["failures"]:
        _console("out").print(f"  [yellow]{escape(item['path'])}[/]: {escape(item['reason'])}")
    for name, reason in (info_.get("storage") or {}).get("not_applied", {}).items():
        _console("out").print(f"  [yellow]qdrant.{escape(name)} not applied[/]: {escape(reason)}")


_TUNING_KEYS = (
    "segments",
    "deleted_threshold",
    "vacuum_min_vector_number",
    "default_segment_number",
    "max_segment_size_kb",
    "memmap_threshold_kb",
    "wal_capacity_mb",
    "wal_segments_ahead",
    "wal_enabled",
)


def _storage_rows(storage: dict[str, Any]) -> list[tuple[str, str]]:
    """The store's effective parameters as rows; an unset value is the store's choice."""
    if not storage:
        return []
    where = storage.get("collection") or storage.get("path") or "-"
    rows = [("store", f"{storage.get('backend')} ({where})")]
    rows += [
        (k, "auto" if storage[k] is None else str(storage[k])) for k in _TUNING_KEYS if k in storage
    ]
    on_disk = storage.get("on_disk")
    if on_disk:
        rows.append(
            (
                "on_disk",
                ", ".join(f"{k} {'default' if v is None else v}" for k, v in on_disk.items()),
            )
        )
    return rows


def projects(items: list[dict[str, Any]]) -> None:
    if not items:
        _console("out").print("[dim]no projects; run 'codeweaver index PATH'[/]")
        return
    from rich.table import Table

    table = Table("project", "root", "files", "chunks", "last run")
    for it in items:
        table.add_row(
            escape(it["project"]),
            escape(it["root"]),
            str(it["files"]),
            str(it["chunks"]),
            _when(it.get("last_run_at")),
        )
    _console("out").print(table)
