"""Build the auth pieces from Settings: the identity store, the token codec, the
service, the audit log, the rate limiter, and the effective auth mode."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from codeweaver.auth.audit import AuditLog
from codeweaver.auth.db import Database
from codeweaver.auth.ratelimit import RateLimiter
from codeweaver.auth.rbac import Roles
from codeweaver.auth.service import AuthService, LockoutPolicy
from codeweaver.auth.store import IdentityStore
from codeweaver.auth.tokens import TokenCodec, load_keys
from codeweaver.config import Settings
from codeweaver.errors import ConfigError

__all__ = [
    "build_audit",
    "build_auth",
    "build_limiter",
    "effective_mode",
    "identity_database",
    "is_loopback",
    "open_store",
    "proxy_options",
]

IDENTITY_DB = "identity.db"  # the SQLite identity store, in home


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy-header options: X-Forwarded-For is believed only from
    ``auth.trusted_proxies`` and ignored entirely when none is named (uvicorn alone
    would trust it from any loopback peer, letting a local caller pick its address)."""
    proxies = settings.auth.trusted_proxies
    if not proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(proxies)}


def effective_mode(settings: Settings, host: str) -> str:
    """``none`` or ``jwt`` for a server bound to ``host``; ``none`` off loopback refused."""
    mode = settings.auth.mode
    loopback = is_loopback(host)
    if mode == "auto":
        return "none" if loopback else "jwt"
    if mode == "none" and not loopback:
        raise ConfigError(
            f"refusing to serve on {host} without authentication: auth.mode 'none' is only "
            "allowed on a loopback address; set CODEWEAVER_AUTH__MODE=jwt (and create users "
            "with 'codeweaver users add') or bind to 127.0.0.1"
        )
    return mode


def identity_database(settings: Settings) -> Database:
    """The identity database (SQLite in home, or PostgreSQL), not migrated: nothing is
    opened until the first query."""
    url = settings.database.url.get_secret_value() if settings.database.url else None
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            "invalid setting 'database.url' (CODEWEAVER_DATABASE__URL): "
            "expected a postgresql:// URL"
        )
    return Database(settings.home / IDENTITY_DB, url)


def open_store(settings: Settings) -> IdentityStore:
    """The identity store (SQLite in home, or PostgreSQL), migrated to the latest schema."""
    db = identity_database(settings)
    db.migrate()
    return IdentityStore(db)


def build_audit(settings: Settings) -> AuditLog:
    name = settings.auth.audit_file
    path = None if not name else (Path(name) if Path(name).is_absolute() else settings.home / name)
    return AuditLog(path)


def build_limiter(settings: Settings) -> RateLimiter:
    a = settings.auth
    return RateLimiter(a.user_rate, a.user_burst, a.tenant_rate, a.tenant_burst)


def build_auth(settings: Settings, store: IdentityStore | None = None) -> AuthService:
    a = settings.auth
    signing, verifying = load_keys(a, settings.home)
    codec = TokenCodec(
        a.algorithm,
        signing,
        verifying,
        issuer=a.issuer,
        audience=a.audience,
        ttl=a.access_ttl_seconds,
        skew=a.clock_skew_seconds,
    )
    return AuthService(
        store or open_store(settings),
        codec,
        Roles(a.roles),
        refresh_ttl=a.refresh_ttl_seconds,
        lockout=LockoutPolicy(a.lockout_attempts, a.lockout_window_seconds, a.lockout_seconds),
    )
