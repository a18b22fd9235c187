"""``codeweaver daemon status|start|stop|run``: the data directory's owner process."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codeweaver.cli import render
from codeweaver.cli.errors import guarded
from codeweaver.cli.options import ConfigOpt, JsonOpt
from codeweaver.errors import ConfigError

if TYPE_CHECKING:
    pass


__all__ = ["register"]


def _home(config: Path | None) -> Path:
    from codeweaver.owner.locate import quick_home

    home = quick_home(config)
    if home is None:
        from codeweaver.cli.state import settings_from

        home = settings_from(config).home  # reports the settings problem
    return home


def _status(home: Path) -> dict[str, Any]:
    from codeweaver.owner.client import connect
    from codeweaver.owner.locate import OwnerPaths

    client = connect(home, check_version=False)
    if client is None:
        return {"running": False, "home": str(home)}
    try:
        info = client.info()
    finally:
        client.close()
    return {"running": True, **info, "socket": str(OwnerPaths(home).socket)}


def register(app: typer.Typer) -> None:
    """Add the ``daemon`` command group to ``app``."""
    daemon_app = typer.Typer(
        help="See, start or stop the data directory's owner.", rich_markup_mode=None
    )
    app.add_typer(daemon_app, name="daemon")

    @daemon_app.command("status")
    @guarded
    def status(json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
        """Which process owns the data directory (exit 1 when none runs)."""
        info = _status(_home(config))
        if json_out:
            render.print_json(info)
        elif info["running"]:
            render.info(
                f"owner of {info['home']}: {info['kind']} (pid {info['pid']}, version "
                f"{info['version']}), {info['connections']} connected, socket {info['socket']}"
            )
        else:
            render.info(f"no owner runs for {info['home']}")
        if not info["running"]:
            raise typer.Exit(1)

    @daemon_app.command("start")
    @guarded
    def start(config: ConfigOpt = None) -> None:
        """Start a background owner (if none runs) and wait until it answers."""
        from codeweaver.cli.state import settings_from
        from codeweaver.owner.launch import ensure_owner

        settings = settings_from(config)
        client = ensure_owner(settings.home, config, settings.owner.start_timeout_seconds)
        render.info(f"owner of {settings.home}: {client.record.kind} (pid {client.record.pid})")
        client.close()

    @daemon_app.command("stop")
    @guarded
    def stop(
        timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds.")] = 30.0,
        config: ConfigOpt = None,
    ) -> None:
        """Stop the owner (a background one, or serve/watch) and wait until it exits."""
        from codeweaver.owner.client import connect
        from codeweaver.owner.locate import OwnerPaths
        from codeweaver.owner.record import pid_alive, read_record

        home = _home(config)
        client = connect(home, check_version=False)
        if client is None:
            render.info(f"no owner runs for {home}")
            return
        pid = client.record.pid
        client.call("POST", "/owner/v1/shutdown")
        client.close()
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and read_record(OwnerPaths(home)) is not None:
            if time.monotonic() > deadline:
                raise ConfigError(f"the owner (pid {pid}) did not stop within {timeout:g}s")
            time.sleep(0.05)
        render.info(f"stopped the owner of {home} (pid {pid})")

    @daemon_app.command("run", hidden=True)
    @guarded
    def run(config: ConfigOpt = None) -> None:
        """Run a background owner in the foreground (what 'start' launches)."""
        from codeweaver.cli.state import settings_from
        from codeweaver.owner.host import run_daemon
        from codeweaver.telemetry.logs import configure_logging

        settings = settings_from(config)
        configure_logging(settings.log_level, "console", None)
        if not run_daemon(settings):
            render.info(f"an owner already runs for {settings.home}")
