"""MCP sessions over HTTP belong to the caller that opened them.

The SDK's session manager binds each stateful session to the identity in
``scope["user"]`` and answers any other identity as if the session did not exist
(404). ``SessionOwnerMiddleware`` hands it the caller the auth middleware checked
(user name plus the credential: login session or API key), and turns that 404
(someone else's session, or one that ended) into the API's error shape with an
``authz.denied`` audit record.
"""

from __future__ import annotations

from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codeweaver.api.denials import refuse
from codeweaver.auth import AuditLog, Principal

__all__ = ["SESSION_HEADER", "SessionOwnerMiddleware", "session_owner"]

SESSION_HEADER = b"mcp-session-id"
SESSION_NOT_FOUND = "unknown MCP session (it ended, or another caller opened it)"


def _credential(principal: Principal) -> str:
    """The credential behind a call: the login session (refresh family) of an access
    token, else the API key sent directly, else how the caller authenticated."""
    if principal.family:
        return f"session:{principal.family}"
    if principal.key_id:
        return f"key:{principal.key_id}"
    return principal.via


def session_owner(principal: Principal) -> AuthenticatedUser:
    """The SDK's identity for ``principal``: its user and the credential it used (a
    refreshed access token keeps its session; another sign-in of the same user does not)."""
    token = AccessToken(
        token="", client_id=_credential(principal), scopes=[], subject=principal.user
    )
    return AuthenticatedUser(token)


def _has_session(scope: Scope) -> bool:
    return any(key.lower() == SESSION_HEADER for key, _ in scope.get("headers", []))


class SessionOwnerMiddleware:
    def __init__(self, app: ASGIApp, audit: AuditLog | None = None) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        principal = state.get("principal")
        if isinstance(principal, Principal):
            scope["user"] = session_owner(principal)
        if not _has_session(scope):
            await self.app(scope, receive, send)
            return
        refused = False

        async def replace_not_found(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and message["status"] == 404:
                refused = True
            if not refused:
                await send(message)

        await self.app(scope, receive, replace_not_found)
        if refused:
            await refuse(
                scope, receive, send, 404, "not_found", SESSION_NOT_FOUND, audit=self.audit
            )
