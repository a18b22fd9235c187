"""``codeweaver watch PATH``: index once, then keep the index current until Ctrl-C/SIGTERM.

The watcher runs in the data directory's owner: when one runs (``serve``, a background
owner) this command is its client; otherwise this process becomes the owner for as
long as it watches, so searches, status and editors' MCP clients keep working beside
it. Either way the command prints the same lines.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codeweaver.cli import render
from codeweaver.cli.errors import guarded
from codeweaver.cli.options import ConfigOpt

if TYPE_CHECKING:
    from codeweaver.cli.target import Remote


__all__ = ["batch_line", "register"]


def batch_line(batch: dict[str, Any]) -> str:
    """One line per re-index: when, what changed, what it cost."""
    s = batch["stats"]
    paths = batch["paths"]
    what = "whole project re-checked" if not paths else _changed(paths)
    failed = f", {len(s['failures'])} failed" if s["failures"] else ""
    return (
        f"{time.strftime('%H:%M:%S')} {what}: {s['files_indexed']} indexed, "
        f"{s['files_deleted']} removed{failed}, {s['chunks_added']} chunks added "
        f"({s['chunks_total']} total) in {batch['seconds']:.2f}s"
    )


def _changed(paths: list[str]) -> str:
    if len(paths) == 1:
        return paths[0]
    return f"{len(paths)} paths ({paths[0]}, …)"


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _owner(config: Path | None) -> Iterator[Remote]:
    """The running owner, else an owner in this process for the command's life."""
    from codeweaver.cli.target import Remote
    from codeweaver.owner.client import connect
    from codeweaver.owner.locate import quick_home

    home = quick_home(config)
    client = connect(home) if home is not None else None
    if client is not None:
        yield Remote(client)
        return
    from codeweaver.cli.state import settings_from
    from codeweaver.owner.host import OwnerThread

    settings = settings_from(config)
    owner = OwnerThread(settings, "watch")
    owner.start()
    try:
        started = connect(settings.home)
        if started is None:
            raise RuntimeError("the owner started in this process does not answer")
        yield Remote(started)
    finally:
        owner.stop()


def _follow(remote: Remote, body: dict[str, Any]) -> None:
    for item in remote.watch(body):
        if "watching" in item:
            w = item["watching"]
            render.info(f"watching {w['root']} (project {w['project']}); Ctrl-C stops")
        elif "batch" in item:
            batch = item["batch"]
            s = batch["stats"]
            if not batch["paths"] and not (s["files_indexed"] or s["files_deleted"]):
                continue  # the catch-up pass found nothing new: stay quiet
            render.info(batch_line(batch))


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
        previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            with _owner(config) as remote:
                with render.index_progress(enabled=True) as on_progress:
                    body = {"path": path, "project": project}
                    stats = remote.index(body, on_progress)
                render.index_summary(stats)
                body = {"path": str(Path(path).absolute()), "project": stats["project"]}
                with suppress(KeyboardInterrupt):
                    _follow(remote, {**body, "debounce_ms": debounce_ms})
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        render.info("stopped")
