"""DNS-rebinding protection for the server without authentication (auth mode ``none``).

Without authentication a server on loopback trusts whoever can connect; a web page the
developer visits can connect too, by pointing its own host name at 127.0.0.1 (DNS
rebinding) or by sending cross-origin requests. ``HostGuardMiddleware`` therefore
accepts only requests whose ``Host`` is a loopback name (``localhost``, 127.0.0.0/8,
``[::1]``, with or without a port) and whose ``Origin``, when a browser sends one, is a
loopback origin or one of ``auth.cors_origins``. Refusals get the API's error shape and
an ``authz.denied`` audit record. The MCP endpoint gets the same lists for the SDK's own
check (:func:`mcp_transport_lists`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from codeweaver.api.denials import refuse
from codeweaver.api.middleware import header
from codeweaver.telemetry.logs import ANONYMOUS, NO_TENANT

__all__ = [
    "HostGuardMiddleware",
    "allowed_origin",
    "loopback_host",
    "loopback_name",
    "mcp_transport_lists",
]

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def loopback_name(name: str) -> bool:
    """Whether a bare host name (no port; IPv6 in brackets or not) is loopback."""
    name = name.lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


def _split_host(host: str) -> tuple[str, str | None]:
    """``name[:port]`` as (name, port); an IPv6 literal keeps its brackets."""
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return host, None
        rest = host[end + 1 :]
        return host[: end + 1], rest[1:] if rest.startswith(":") else (rest or None)
    name, sep, port = host.rpartition(":")
    return (name, port) if sep else (host, None)


def loopback_host(host: str | None) -> bool:
    """Whether a ``Host`` header names this machine's loopback interface."""
    if not host:
        return False
    name, port = _split_host(host.strip())
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        return False
    if name.startswith("[") != name.endswith("]"):
        return False
    if ":" in name and not name.startswith("["):
        return False  # a bare IPv6 literal is not a valid Host
    return loopback_name(name)


def allowed_origin(origin: str, cors_origins: Sequence[str]) -> bool:
    """Whether a browser ``Origin`` may call the server: loopback, or configured."""
    if origin in cors_origins:
        return True
    try:
        parts = urlsplit(origin)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or parts.path or parts.query or parts.fragment:
        return False
    return loopback_host(parts.netloc) and "@" not in parts.netloc


def mcp_transport_lists(
    bind_host: str | None, cors_origins: Sequence[str]
) -> tuple[list[str], list[str]]:
    """``allowed_hosts`` / ``allowed_origins`` for the MCP SDK's transport security:
    the loopback names (and the bound address) with any port, and the same origins."""
    names = list(_LOOPBACK_NAMES)
    if bind_host and loopback_name(bind_host):
        bound = f"[{bind_host.strip('[]')}]" if ":" in bind_host else bind_host.lower()
        if bound not in names:
            names.append(bound)
    hosts = [pattern for name in names for pattern in (name, f"{name}:*")]
    origins = [
        pattern
        for scheme in ("http", "https")
        for name in names
        for pattern in (f"{scheme}://{name}", f"{scheme}://{name}:*")
    ]
    return hosts, [*origins, *cors_origins]


class HostGuardMiddleware:
    """Refuse a non-loopback ``Host`` (421) and a foreign ``Origin`` (403)."""

    def __init__(self, app: ASGIApp, *, cors_origins: Sequence[str]) -> None:
        self.app = app
        self.cors_origins = tuple(cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = header(scope, b"host")
        origin = header(scope, b"origin")
        if not loopback_host(host):
            shown = (host or "")[:100]
            message = f"host {shown!r} refused: without authentication only loopback is served"
            await self._refuse(scope, receive, send, 421, "misdirected_request", message)
        elif origin is not None and not allowed_origin(origin, self.cors_origins):
            message = f"origin {origin[:100]!r} refused: not a loopback or configured origin"
            await self._refuse(scope, receive, send, 403, "forbidden", message)
        else:
            await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str
    ) -> None:
        state = scope.setdefault("state", {})
        state.setdefault("user", ANONYMOUS)  # refused before anyone is known
        state.setdefault("tenant_id", NO_TENANT)
        await refuse(scope, receive, send, status, code, message)
