"""Role-based access control: permissions ``codeweaver:{resource}:{action}`` with ``*``.

Every HTTP route and MCP tool names one of these (or ``PUBLIC`` / ``AUTHENTICATED``)
in its table; a role is a list of permission patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from codeweaver.errors import ConfigError

__all__ = [
    "AUDIT_READ",
    "AUTHENTICATED",
    "BACKUP_READ",
    "BACKUP_WRITE",
    "BUILTIN_ROLES",
    "CACHE_READ",
    "CODE_READ",
    "DEBUG_READ",
    "HEALTH_READ",
    "INDEX_DELETE",
    "INDEX_READ",
    "INDEX_WRITE",
    "METRICS_READ",
    "PUBLIC",
    "RUNBOOK_READ",
    "SEARCH_READ",
    "Roles",
    "grants",
    "validate_permission",
]

PUBLIC = "public"  # no credentials needed
AUTHENTICATED = "authenticated"  # any valid caller

SEARCH_READ = "codeweaver:search:read"
CODE_READ = "codeweaver:code:read"
INDEX_READ = "codeweaver:index:read"
INDEX_WRITE = "codeweaver:index:write"
INDEX_DELETE = "codeweaver:index:delete"
HEALTH_READ = "codeweaver:health:read"
METRICS_READ = "codeweaver:metrics:read"
AUDIT_READ = "codeweaver:audit:read"
CACHE_READ = "codeweaver:cache:read"  # holds every tenant's popular queries: admins only
DEBUG_READ = "codeweaver:debug:read"
BACKUP_READ = "codeweaver:backup:read"
BACKUP_WRITE = "codeweaver:backup:write"
RUNBOOK_READ = "codeweaver:runbook:read"  # the operators' runbook articles: admins only

_PART = r"(?:\*|[a-z][a-z0-9_-]{0,31})"
_PATTERN = re.compile(rf"^codeweaver:{_PART}:{_PART}$")

BUILTIN_ROLES: dict[str, tuple[str, ...]] = {
    "admin": ("codeweaver:*:*",),
    "manager": (
        "codeweaver:search:*",
        CODE_READ,
        "codeweaver:index:*",
        METRICS_READ,
        AUDIT_READ,
        HEALTH_READ,
    ),
    "developer": ("codeweaver:search:*", CODE_READ, INDEX_READ, HEALTH_READ),
    "readonly": (SEARCH_READ, INDEX_READ, HEALTH_READ),
}


def validate_permission(pattern: str) -> str:
    if not _PATTERN.match(pattern):
        raise ConfigError(
            f"invalid permission {pattern!r}: use codeweaver:RESOURCE:ACTION "
            "(lowercase words or '*')"
        )
    return pattern


def grants(pattern: str, needed: str) -> bool:
    """Whether permission ``pattern`` (may hold ``*`` parts) covers ``needed``."""
    if needed == PUBLIC:
        return True
    if needed == AUTHENTICATED:
        return True
    have = pattern.split(":")
    want = needed.split(":")
    if len(have) != 3 or len(want) != 3:
        return False
    return all(h in ("*", w) for h, w in zip(have, want, strict=True))


class Roles:
    """The built-in roles plus custom ones from settings (which may not redefine them)."""

    def __init__(self, custom: Mapping[str, Iterable[str]] | None = None) -> None:
        self._roles = dict(BUILTIN_ROLES)
        for name, perms in (custom or {}).items():
            if name in BUILTIN_ROLES:
                raise ConfigError(f"invalid setting 'auth.roles': {name!r} is a built-in role")
            if not re.match(r"^[a-z][a-z0-9_-]{0,31}$", name):
                raise ConfigError(f"invalid setting 'auth.roles': bad role name {name!r}")
            self._roles[name] = tuple(validate_permission(p) for p in perms)

    def names(self) -> list[str]:
        return sorted(self._roles)

    def exists(self, role: str) -> bool:
        return role in self._roles

    def permissions(self, roles: Iterable[str]) -> tuple[str, ...]:
        out: list[str] = []
        for role in roles:
            for perm in self._roles.get(role, ()):
                if perm not in out:
                    out.append(perm)
        return tuple(out)

    @staticmethod
    def allows(permissions: Iterable[str], needed: str) -> bool:
        if needed == PUBLIC:
            return True
        perms = tuple(permissions)
        if needed == AUTHENTICATED:
            return True
        return any(grants(p, needed) for p in perms)
