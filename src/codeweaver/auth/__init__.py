"""Authentication, RBAC, tenants, audit and abuse limits.

Modules: ``rbac`` (permissions and roles), ``passwords`` (argon2), ``tokens`` (JWT),
``secrets_fmt`` (API keys, refresh tokens), ``db`` + ``store`` (identity store on
SQLite or PostgreSQL), ``export`` (its logical export and import, for backups),
``service`` (logins, refresh, per-request checks), ``admin`` (users and keys, audited),
``ratelimit``, ``audit``, ``setup`` (from Settings).
"""

from codeweaver.auth.audit import AuditLog
from codeweaver.auth.principal import LOCAL, Principal
from codeweaver.auth.rbac import AUTHENTICATED, PUBLIC, Roles
from codeweaver.auth.service import AuthService, TokenPair

__all__ = [
    "AUTHENTICATED",
    "LOCAL",
    "PUBLIC",
    "AuditLog",
    "AuthService",
    "Principal",
    "Roles",
    "TokenPair",
]
