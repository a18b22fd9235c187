"""``codeweaver watch PATH``: index once, then keep the index current until Ctrl-C/SIGTERM."""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Annotated

import typer

from codeweaver.cli import render
from codeweaver.cli.errors import guarded
from codeweaver.cli.options import ConfigOpt
from codeweaver.cli.state import engine_from, settings_from
from codeweaver.workers.watch import WatchBatch, Watcher

__all__ = ["batch_line", "register"]


def batch_line(batch: WatchBatch) -> str:
    """One line per re-index: when, what changed, what it cost."""
    s = batch.stats
    what = "whole project re-checked" if batch.full else _changed(batch.paths)
    failed = f", {len(s.failures)} failed" if s.failures else ""
    return (
        f"{time.strftime('%H:%M:%S')} {what}: {s.files_indexed} indexed, "
        f"{s.files_deleted} removed{failed}, {s.chunks_added} chunks added "
        f"({s.chunks_total} total) in {batch.seconds:.2f}s"
    )


def _changed(paths: tuple[str, ...]) -> str:
    if len(paths) == 1:
        return paths[0]
    return f"{len(paths)} paths ({paths[0]}, …)"


def register(app: typer.Typer) -> None:
    """Add the ``watch`` command to ``app``."""

    @app.command()
    @guarded
    def watch(
        path: Annotated[str, typer.Argument(help="Folder to index and watch.")],
        project: Annotated[
            str | None, typer.Option("--project", "-p", help="Project name (default: folder name).")
        ] = None,
        debounce_ms: Annotated[
            int,
            typer.Option(
                "--debounce-ms", min=10, help="Quiet time that closes a batch of changes."
            ),
        ] = 300,
        config: ConfigOpt = None,
    ) -> None:
        """Index a folder, then re-index changed files as they are saved (Ctrl-C stops)."""
        engine = engine_from(settings_from(config))
        with render.index_progress(enabled=True) as on_progress:
            stats = engine.index(path, project, on_progress=on_progress)
        render.index_summary(stats)

        def on_batch(batch: WatchBatch) -> None:
            if batch.full and not (batch.stats.files_indexed or batch.stats.files_deleted):
                return  # the catch-up pass found nothing new: stay quiet
            render.info(batch_line(batch))

        watcher = Watcher(engine, path, stats.project, debounce_ms=debounce_ms, on_batch=on_batch)
        stop = threading.Event()

        def request_stop(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        render.info(f"watching {watcher.root} (project {watcher.project}); Ctrl-C stops")
        try:
            watcher.run_forever(stop)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        render.info("stopped")
