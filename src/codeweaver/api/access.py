"""The caller of an HTTP request, as the auth middleware recorded it, and the audit
helpers handlers use (data access, tenant-scope denials)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request

from codeweaver.auth import LOCAL, AuditLog, Principal

__all__ = [
    "audit_access",
    "audit_admin",
    "audit_admin_later",
    "audit_denied",
    "audit_of",
    "principal_of",
    "tenants_of",
]


def principal_of(request: Request) -> Principal:
    principal = request.scope.get("state", {}).get("principal")
    return principal if isinstance(principal, Principal) else LOCAL


def tenants_of(request: Request) -> tuple[str, ...]:
    return principal_of(request).tenants


def audit_of(request: Request) -> AuditLog | None:
    audit: AuditLog | None = getattr(request.app.state, "audit", None)
    return audit


def _emitter(request: Request, event: str) -> Callable[..., None]:
    """Emit ``event`` for ``request`` now or later (the request's details are taken now)."""
    audit = audit_of(request)
    state = request.scope.get("state", {})
    fields = {
        "user": state.get("user"),
        "tenant_id": state.get("tenant_id"),
        "request_id": state.get("request_id"),
        "route": f"{request.method} {request.url.path}",
    }

    def emit(outcome: str, reason: str | None = None, **extra: Any) -> None:
        if audit is not None:
            audit.emit(event, **fields, outcome=outcome, reason=reason, **extra)

    return emit


def _emit(request: Request, event: str, outcome: str, reason: str | None, **extra: Any) -> None:
    _emitter(request, event)(outcome, reason, **extra)


def audit_access(request: Request, project: str, action: str, **extra: Any) -> None:
    """``data.access``: who searched or read what project."""
    _emit(request, "data.access", "success", None, project=project, action=action, **extra)


def audit_admin(
    request: Request, action: str, outcome: str = "success", reason: str | None = None, **extra: Any
) -> None:
    """``admin.<action>``: backups and other administrative changes made over HTTP."""
    _emit(request, f"admin.{action}", outcome, reason, **extra)


def audit_admin_later(request: Request, action: str) -> Callable[..., None]:
    """``admin.<action>`` for work that ends after the request: call the result with
    ``(outcome, reason=None, **extra)`` when it does."""
    return _emitter(request, f"admin.{action}")


def audit_denied(request: Request, reason: str) -> None:
    _emit(request, "authz.denied", "denied", reason)
