"""The MCP server: the tools of ``codeweaver.mcp.tools`` on the official SDK's MCPServer.

* stdio: ``build_mcp_server(engine).run(transport="stdio")`` (``codeweaver mcp``).
* HTTP: ``streamable_http_app(engine)`` is a Starlette ASGI app serving streamable HTTP
  at its own ``/`` path, to be mounted (e.g. at ``/mcp``) by the HTTP server. Its
  lifespan runs the SDK's session manager; see :func:`streamable_http_app`.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import ValidationError
from starlette.applications import Starlette

from codeweaver.auth import LOCAL, AuditLog, Principal
from codeweaver.engine import Engine
from codeweaver.errors import (
    CodeWeaverError,
    OutOfScopeError,
    PathError,
    PermissionDeniedError,
    RateLimitedError,
)
from codeweaver.mcp.caller import Call, audit_denied, bind
from codeweaver.mcp.tools import TOOLS, CodeTools, IndexRunner

__all__ = ["INSTRUCTIONS", "build_mcp_server", "streamable_http_app", "tool_names"]

log = logging.getLogger("codeweaver.mcp")

INSTRUCTIONS = (
    "CodeWeaver searches indexed codebases. Start with list_projects; if the codebase is "
    "missing, call index_codebase with its folder. Use search_code for questions and "
    "identifiers, structural_search for exact syntactic patterns, and get_code to read "
    "more lines around a result."
)


def tool_names() -> list[str]:
    return [spec.name for spec in TOOLS]


def _guard(name: str, fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Turn CodeWeaver errors into MCP tool errors with a one-line message."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return fn(*args, **kwargs)
        except CodeWeaverError as exc:
            if isinstance(exc, OutOfScopeError):
                audit_denied(f"404 {exc.reason}")
            elif isinstance(exc, PathError):
                audit_denied("path refused")
            elif isinstance(exc, PermissionDeniedError | RateLimitedError):
                audit_denied(exc.message)
            raise ToolError(str(exc)) from None
        except Exception as exc:  # never hand a traceback to the client
            log.debug("tool %s failed", name, exc_info=True)
            message = " ".join(f"unexpected error: {type(exc).__name__}: {exc}".split())
            raise ToolError(message) from None

    return wrapper


_PERMISSIONS = {spec.name: spec.permission for spec in TOOLS}


def _request_state(context: Context[Any, Any] | None) -> dict[str, Any] | None:
    """The HTTP request's state (None over stdio)."""
    try:
        request = context.request_context.request if context is not None else None
    except ValueError:  # no request context
        return None
    scope = getattr(request, "scope", None)
    return scope.setdefault("state", {}) if isinstance(scope, dict) else None


class _CodeWeaverServer(MCPServer[Any]):
    """MCPServer with compact JSON text results, one-line argument errors, and the
    caller's permission checked (and bound for the tools) before every tool call."""

    audit: AuditLog | None = None
    require_auth: bool = False

    def _call(self, name: str, context: Context[Any, Any] | None) -> Call:
        state = _request_state(context)
        principal = (state or {}).get("principal")
        request_id = (state or {}).get("request_id")
        if not isinstance(principal, Principal):
            if self.require_auth and state is not None:
                raise ToolError("authentication required")
            principal = LOCAL
        call = Call(principal, name, self.audit, request_id)
        needed = _PERMISSIONS.get(name)
        if needed is not None and not principal.allows(needed):
            audit_denied(f"403 {needed} is required", call)
            raise ToolError(f"permission denied: {needed} is required")
        return call

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            with bind(self._call(name, context)):
                result = await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                raise ToolError(f"Error executing tool {name}: {_one_line(cause)}") from None
            raise
        if isinstance(result, CallToolResult) and result.structured_content is not None:
            text = json.dumps(result.structured_content, ensure_ascii=False, separators=(",", ":"))
            result = result.model_copy(update={"content": [TextContent(type="text", text=text)]})
        return result


def _one_line(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "arguments"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"invalid argument {where!r}: {first['msg']}{more}"


def build_mcp_server(
    engine: Engine,
    *,
    name: str = "codeweaver",
    audit: AuditLog | None = None,
    require_auth: bool = False,
    jobs: IndexRunner | None = None,
) -> MCPServer[Any]:
    """An MCPServer exposing every tool of ``TOOLS`` over ``engine``; ``index_codebase``
    runs through ``jobs`` (the HTTP server's job queue) when given.

    Over HTTP each call runs as the principal the auth middleware put on the request;
    with ``require_auth`` a request without one is refused. Without an HTTP request
    (stdio) calls run as the local user: every permission, every tenant.
    """
    server = _CodeWeaverServer(
        name,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
    )
    server.audit = audit
    server.require_auth = require_auth
    tools = CodeTools(engine, jobs)
    for spec in TOOLS:
        server.add_tool(
            _guard(spec.name, getattr(tools, spec.name)),
            name=spec.name,
            description=spec.description,
            annotations=ToolAnnotations(
                read_only_hint=spec.read_only,
                destructive_hint=False,
                idempotent_hint=True,
                open_world_hint=False,
            ),
        )
    return server


def streamable_http_app(
    engine: Engine,
    *,
    allowed_hosts: list[str] | None = None,
    allowed_origins: list[str] | None = None,
    stateless: bool = False,
    audit: AuditLog | None = None,
    require_auth: bool = False,
    jobs: IndexRunner | None = None,
) -> Starlette:
    """The streamable-HTTP MCP endpoint as an ASGI app that answers at its root path.

    Mount it under a prefix, and run its lifespan (it starts the SDK's session
    manager, without which every request fails)::

        mcp_app = streamable_http_app(engine)
        app = FastAPI(lifespan=lambda _: mcp_app.router.lifespan_context(mcp_app))
        app.mount("/mcp", mcp_app)

    The session manager can run once per app: build a new app for each server start.
    ``allowed_hosts`` / ``allowed_origins`` (exact values, or ``"...:*"`` for any port)
    enable the SDK's DNS-rebinding protection; by default any Host is accepted.
    """
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=allowed_hosts is not None,
        allowed_hosts=allowed_hosts or [],
        allowed_origins=allowed_origins or [],
    )
    server = build_mcp_server(engine, audit=audit, require_auth=require_auth, jobs=jobs)
    return server.streamable_http_app(
        streamable_http_path="/",
        stateless_http=stateless,
        transport_security=security,
    )
