"""ASGI middleware: who is calling, may they, and not too often.

``AuthMiddleware`` looks up the permission of the request's route (the ``ROUTES``
table; the MCP mount and unknown paths need any valid caller), authenticates the
bearer credential (access token or API key), checks the role, applies the rate
limits and records the caller in ``request.state.user`` / ``request.state.tenant_id``
/ ``request.state.principal``. Every refusal is audited (``authz.denied``). With the
identity store on PostgreSQL the credential check waits on the network, so it runs on
a small pool of its own threads, never on the event loop: a slow or locked database
delays only the requests that need it. SQLite reads (a local file in WAL mode, which
writers never block) take a fraction of the thread hand-off and stay on the loop.

``SecurityHeadersMiddleware`` adds the security headers to every response and audits
requests refused for their size.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codeweaver.api.denials import audit_denial, refuse
from codeweaver.api.errors import headers_for, status_for
from codeweaver.api.middleware import header
from codeweaver.auth import AUTHENTICATED, LOCAL, PUBLIC, AuthService, Principal
from codeweaver.auth.ratelimit import RateLimiter
from codeweaver.errors import AuthenticationError, CodeWeaverError
from codeweaver.telemetry.logs import ANONYMOUS, NO_TENANT

__all__ = ["MCP_PREFIX", "AuthMiddleware", "SecurityHeadersMiddleware", "compile_table"]

MCP_PREFIX = "/mcp"
AUTH_THREADS = 8  # threads (and identity-store connections) checking credentials
Table = list[tuple[str, re.Pattern[str], str]]

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cache-control", b"no-store"),
]
_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOCS = ("/docs", "/redoc", "/openapi.json")


def compile_table(routes: Iterable[tuple[str, str, str]]) -> Table:
    """(method, path template, permission) rows as (method, regex, permission)."""
    table: Table = []
    for method, path, permission in routes:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
        table.append((method, re.compile(f"^{pattern}$"), permission))
    return table


def _remote_store(app_state: Any) -> bool:
    """Whether the identity store is across the network (PostgreSQL)."""
    service: AuthService | None = getattr(app_state, "auth", None)
    return service is not None and service.store.db.postgres


class AuthMiddleware:
    def __init__(self, app: ASGIApp, *, mode: str, table: Table, max_query_bytes: int) -> None:
        self.app = app
        self.mode = mode
        self.table = table
        self.max_query = max_query_bytes
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        """Long-lived threads, so that each keeps its one store connection."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(AUTH_THREADS, thread_name_prefix="cw-auth")
            return self._pool

    def permission_for(self, method: str, path: str) -> str:
        if path == MCP_PREFIX or path.startswith(MCP_PREFIX + "/"):
            return AUTHENTICATED
        method = "GET" if method == "HEAD" else method
        for m, rx, permission in self.table:
            if m == method and rx.match(path):
                return permission
        return AUTHENTICATED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state.update(user=ANONYMOUS, tenant_id=NO_TENANT)  # until the caller is known
        app_state = scope["app"].state
        if len(scope.get("query_string", b"")) > self.max_query:
            await refuse(scope, receive, send, 414, "uri_too_long", "query string too long")
            return
        permission = (
            PUBLIC if self.mode == "none" else self.permission_for(scope["method"], scope["path"])
        )
        try:
            if permission == PUBLIC or not _remote_store(app_state):
                principal = self._principal(scope, app_state, permission)
            else:
                loop = asyncio.get_running_loop()
                principal = await loop.run_in_executor(
                    self._executor(), self._principal, scope, app_state, permission
                )
        except CodeWeaverError as exc:
            await self._denied(scope, receive, send, exc)
            return
        if principal is not None:
            state.update(user=principal.user, tenant_id=principal.tenant, principal=principal)
        await self.app(scope, receive, send)

    def _principal(
        self, scope: Scope, app_state: Any, permission: str | None = None
    ) -> Principal | None:
        """The caller (None: anonymous on a public route); raises to refuse."""
        if self.mode == "none":
            return LOCAL
        if permission is None:
            permission = self.permission_for(scope["method"], scope["path"])
        service: AuthService = app_state.auth
        limiter: RateLimiter = app_state.limiter
        if permission == PUBLIC:
            if scope["path"].startswith("/auth/") or scope["path"] == "/health":
                client = (scope.get("client") or ("unknown", 0))[0]
                limiter.check(f"ip:{client}", f"ip:{client}")
            return None
        auth = header(scope, b"authorization")
        if not auth:
            raise AuthenticationError("missing bearer token")
        scheme, _, credential = auth.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise AuthenticationError("malformed Authorization header; use 'Bearer TOKEN'")
        principal = service.authenticate(credential.strip())
        scope["state"].update(user=principal.user, tenant_id=principal.tenant)
        service.authorize(principal, permission)
        limiter.check(principal.user, principal.tenant)
        return principal

    async def _denied(
        self, scope: Scope, receive: Receive, send: Send, exc: CodeWeaverError
    ) -> None:
        status, code = status_for(exc)
        await refuse(scope, receive, send, status, code, str(exc), headers_for(exc))


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith(_DOCS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                if int(message["status"]) == 413:
                    _audit_too_large(scope)  # before the client can see the answer
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in SECURITY_HEADERS if h[0] not in present]
                if not docs and _CSP[0] not in present:  # the web page sends its own
                    extra.append(_CSP)
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def _audit_too_large(scope: Scope) -> None:
    audit_denial(scope, "413 request body too large")
