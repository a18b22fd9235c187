"""Who is calling: the authenticated principal every edge passes down."""

from __future__ import annotations

from dataclasses import dataclass

from codeweaver.auth.rbac import Roles

__all__ = ["LOCAL", "Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    user: str
    kind: str  # "user" | "service" | "local"
    roles: tuple[str, ...]
    tenants: tuple[str, ...]  # "*" means every tenant
    tenant: str  # primary tenant: where new projects go
    permissions: tuple[str, ...]
    via: str  # "password", "api_key" (the key, or a session opened with it) or "local"
    jti: str | None = None
    expires_at: float | None = None
    family: str | None = None  # the session of the access token
    key_id: str | None = None  # the API key behind the credential

    def allows(self, permission: str) -> bool:
        return Roles.allows(self.permissions, permission)

    def describe(self) -> dict[str, object]:
        return {
            "user": self.user,
            "kind": self.kind,
            "roles": list(self.roles),
            "tenant": self.tenant,
            "tenants": list(self.tenants),
            "permissions": list(self.permissions),
            "authenticated_by": self.via,
        }


# The local user: stdio MCP, the CLI, and the HTTP server in auth mode "none".
LOCAL = Principal(
    user="local",
    kind="local",
    roles=("admin",),
    tenants=("*",),
    tenant="default",
    permissions=("codeweaver:*:*",),
    via="local",
)
