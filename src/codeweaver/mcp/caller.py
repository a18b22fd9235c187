"""The caller of the MCP tool being run, and the audit records the tools write.

``server`` binds the caller (from the HTTP request the auth middleware checked, or
the local user over stdio) for the duration of one tool call; the tools read it to
scope every engine call to the caller's tenants.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from codeweaver.auth import LOCAL, AuditLog, Principal

__all__ = ["Call", "audit_access", "audit_denied", "bind", "current"]


@dataclass(frozen=True, slots=True)
class Call:
    principal: Principal
    tool: str
    audit: AuditLog | None
    request_id: str | None


_CALL: ContextVar[Call | None] = ContextVar("codeweaver_mcp_call", default=None)


def current() -> Principal:
    call = _CALL.get()
    return call.principal if call is not None else LOCAL


@contextmanager
def bind(call: Call) -> Iterator[None]:
    token = _CALL.set(call)
    try:
        yield
    finally:
        _CALL.reset(token)


def _emit(call: Call | None, event: str, outcome: str, reason: str | None, **extra: Any) -> None:
    if call is None or call.audit is None:
        return
    call.audit.emit(
        event,
        user=call.principal.user,
        tenant_id=call.principal.tenant,
        request_id=call.request_id,
        route=f"mcp:{call.tool}",
        outcome=outcome,
        reason=reason,
        **extra,
    )


def audit_access(action: str, project: str, **extra: Any) -> None:
    _emit(_CALL.get(), "data.access", "success", None, project=project, action=action, **extra)


def audit_denied(reason: str, call: Call | None = None) -> None:
    _emit(call or _CALL.get(), "authz.denied", "denied", reason)
