"""``codeweaver serve``: the HTTP API under uvicorn (SIGTERM/SIGINT shut down gracefully).

``serve`` owns its data directory: beside the TCP listener it serves the owner socket,
so local commands and stdio MCP clients work while it runs (see ``codeweaver.owner``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from codeweaver.cli.errors import guarded
from codeweaver.cli.options import ConfigOpt
from codeweaver.cli.state import settings_from
from codeweaver.cli.tls import tls_options

__all__ = ["register"]


def _after_graceful_shutdown(_signum: int, _frame: FrameType | None) -> None:
    """uvicorn re-raises SIGTERM once it has shut down gracefully; that is a clean exit."""


@contextmanager
def _sigterm_exits_cleanly() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _after_graceful_shutdown)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""

    @app.command()
    @guarded
    def serve(
        host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8080,
        watch: Annotated[
            list[Path] | None,
            typer.Option("--watch", help="Index this folder and keep it fresh (repeatable)."),
        ] = None,
        tls_cert: Annotated[
            Path | None,
            typer.Option("--tls-cert", help="PEM certificate (chain): serve HTTPS."),
        ] = None,
        tls_key: Annotated[
            Path | None,
            typer.Option("--tls-key", help="PEM private key of --tls-cert."),
        ] = None,
        config: ConfigOpt = None,
    ) -> None:
        """Serve the HTTP API (search, index jobs, projects, health)."""
        from codeweaver.api import create_app
        from codeweaver.auth.setup import proxy_options
        from codeweaver.index.discovery import resolve_root
        from codeweaver.owner.host import run_beside
        from codeweaver.telemetry.logs import configure_logging

        tls = tls_options(tls_cert, tls_key)  # checked before the model loads
        settings = settings_from(config)
        obs = settings.observability
        configure_logging(settings.log_level, obs.log_format, obs.log_file)
        app = create_app(
            settings,
            watch=[resolve_root(p) for p in watch or []],
            bind_host=host,  # the auth mode follows from it: none only on loopback
        )
        with _sigterm_exits_cleanly():
            run_beside(  # the TCP API, and the owner socket for local clients
                app,
                settings,
                "serve",
                host=host,
                port=port,
                log_level=settings.log_level,
                log_config=None,  # our handler formats uvicorn's records too
                access_log=False,  # codeweaver.access logs every request instead
                timeout_graceful_shutdown=15,
                **proxy_options(settings),
                **tls,
            )
