"""The MCP edge: CodeWeaver's tools for AI agents over stdio or streamable HTTP."""

from codeweaver.mcp.server import build_mcp_server, streamable_http_app, tool_names
from codeweaver.mcp.tools import TOOLS

__all__ = ["TOOLS", "build_mcp_server", "streamable_http_app", "tool_names"]
