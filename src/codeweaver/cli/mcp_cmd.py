"""``codeweaver mcp``: serve the MCP tools over stdio for an AI agent."""

from __future__ import annotations

import typer

from codeweaver.cli.errors import guarded
from codeweaver.cli.options import ConfigOpt
from codeweaver.cli.state import engine_from, settings_from

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``mcp`` command to ``app``."""

    @app.command("mcp")
    @guarded
    def mcp(
        config: ConfigOpt = None,
    ) -> None:
        """Serve the MCP tools over stdio (for Claude Code, Cursor and other MCP clients)."""
        from codeweaver.mcp import build_mcp_server
        from codeweaver.ops.auth.setup import build_audit

        settings = settings_from(config)
        engine = engine_from(settings)
        build_mcp_server(engine, audit=build_audit(settings)).run(transport="stdio")
