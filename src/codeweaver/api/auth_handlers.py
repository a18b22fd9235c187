"""Token endpoints (``/auth/token``, ``/auth/refresh``, ``/auth/logout``) and the
caller's own permissions. Logins and refreshes are audited; no secret is ever logged."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from codeweaver.api.access import audit_of, principal_of
from codeweaver.auth import AuthService
from codeweaver.errors import AuthenticationError, InputError, NotFoundError

__all__ = ["logout", "my_permissions", "refresh", "token"]

Secret = Annotated[str, Field(min_length=1, max_length=1024)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TokenBody(_Body):
    username: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    password: Secret | None = None
    api_key: Secret | None = None


class RefreshBody(_Body):
    refresh_token: Secret


class LogoutBody(_Body):
    refresh_token: Secret | None = None


def _service(request: Request) -> AuthService:
    service: AuthService | None = getattr(request.app.state, "auth", None)
    if service is None:
        raise NotFoundError("authentication is off on this server (auth mode 'none')")
    return service


def _audit(
    request: Request, event: str, user: str | None, outcome: str, reason: str | None
) -> None:
    audit = audit_of(request)
    if audit is not None:
        state = request.scope.get("state", {})
        audit.emit(
            event,
            user=user,
            tenant_id=state.get("tenant_id"),
            request_id=state.get("request_id"),
            route=f"{request.method} {request.url.path}",
            outcome=outcome,
            reason=reason,
        )


def token(request: Request, body: TokenBody) -> dict[str, Any]:
    service = _service(request)
    if body.api_key is not None:
        if body.username is not None or body.password is not None:
            raise InputError("give either username and password, or api_key")
        method, who = "api_key", None
    elif body.username is not None and body.password is not None:
        method, who = "password", body.username
    else:
        raise InputError("give username and password, or api_key")
    try:
        pair = (
            service.login_api_key(body.api_key)
            if body.api_key is not None
            else service.login_password(body.username or "", body.password or "")
        )
    except AuthenticationError as exc:
        _audit(request, "auth.login.failure", who, "failure", f"{method}: {exc}")
        raise
    _audit(request, "auth.login.success", pair.user, "success", method)
    return pair.as_dict()


def refresh(request: Request, body: RefreshBody) -> dict[str, Any]:
    service = _service(request)
    try:
        pair = service.refresh(body.refresh_token)
    except AuthenticationError as exc:
        owner = service.refresh_user(body.refresh_token)
        event = "auth.refresh.reuse" if "reused" in str(exc) else "auth.token.refresh"
        _audit(request, event, owner, "failure", str(exc))
        raise
    _audit(request, "auth.token.refresh", pair.user, "success", None)
    return pair.as_dict()


def logout(request: Request, body: LogoutBody | None = None) -> dict[str, Any]:
    service = _service(request)
    principal = principal_of(request)
    service.logout(principal, body.refresh_token if body else None)
    _audit(request, "auth.logout", principal.user, "success", None)
    return {"logged_out": principal.user}


def my_permissions(request: Request) -> dict[str, Any]:
    return principal_of(request).describe()
