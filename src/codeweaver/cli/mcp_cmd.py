"""``codeweaver mcp``: the MCP tools over stdio for an AI agent, answered by the owner.

Any number of these may run at once (editor windows, agents, a terminal): each is a
client of the data directory's owner, started in the background when none runs.
"""

from __future__ import annotations

import typer

from codeweaver.cli.errors import guarded
from codeweaver.cli.options import ConfigOpt
from codeweaver.cli.state import settings_from

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``mcp`` command to ``app``."""

    @app.command("mcp")
    @guarded
    def mcp(
        config: ConfigOpt = None,
    ) -> None:
        """Serve the MCP tools over stdio (for Claude Code, Cursor and other MCP clients)."""
        from codeweaver.owner.mcp_proxy import run_proxy

        settings = settings_from(config)
        run_proxy(settings.home, config, settings.owner.start_timeout_seconds)
