"""Refusals made below the routes (ASGI middleware): one audit record, one error shape.

Every middleware that refuses a request (authentication, the loopback Host/Origin
guard, MCP session ownership, the body limit) records ``authz.denied`` with the same
fields and answers with the API's one error shape.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Receive, Scope, Send

from codeweaver.api.errors import error_response
from codeweaver.auth import AuditLog
from codeweaver.telemetry.logs import ANONYMOUS

__all__ = ["audit_denial", "refuse"]


def audit_denial(scope: Scope, reason: str, audit: AuditLog | None = None) -> None:
    """Record ``authz.denied`` for the request in ``scope`` (the app's audit log unless
    ``audit`` is given)."""
    if audit is None:
        audit = getattr(scope["app"].state, "audit", None)
    if audit is None:
        return
    state: dict[str, Any] = scope.get("state", {})
    audit.emit(
        "authz.denied",
        user=state.get("user", ANONYMOUS),
        tenant_id=state.get("tenant_id"),
        request_id=state.get("request_id"),
        route=f"{scope['method']} {scope['path']}",
        outcome="denied",
        reason=reason,
    )


async def refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    audit: AuditLog | None = None,
) -> None:
    """Audit the refusal, then answer it in the one error shape."""
    audit_denial(scope, f"{status} {message}", audit)
    request_id = str(scope.get("state", {}).get("request_id", ""))
    response = error_response(status, code, message, request_id)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    await response(scope, receive, send)
