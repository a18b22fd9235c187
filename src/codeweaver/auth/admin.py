"""Administration of users, tenants and API keys; every change is audited
(``admin.<action>``)."""

from __future__ import annotations

import re
import time
from typing import Any

from codeweaver.auth.audit import AuditLog
from codeweaver.auth.passwords import hash_password
from codeweaver.auth.rbac import Roles
from codeweaver.auth.secrets_fmt import new_api_key
from codeweaver.auth.store import ApiKeyRecord, IdentityStore, UserRecord
from codeweaver.errors import InputError

__all__ = ["Admin"]

_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # as project names
_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def validate_tenant(tenant: str) -> str:
    if not _TENANT.match(tenant):
        raise InputError(
            f"invalid tenant {tenant!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return tenant


def validate_username(name: str) -> str:
    if not _USER.match(name):
        raise InputError(
            f"invalid user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-'"
        )
    return name


class Admin:
    def __init__(self, store: IdentityStore, roles: Roles, audit: AuditLog, actor: str) -> None:
        self.store = store
        self.roles = roles
        self.audit = audit
        self.actor = actor

    def _role(self, role: str) -> str:
        if not self.roles.exists(role):
            raise InputError(f"unknown role {role!r} (roles: {', '.join(self.roles.names())})")
        return role

    def _record(self, action: str, **fields: Any) -> None:
        self.audit.emit(f"admin.{action}", user=self.actor, route="cli", **fields)

    def add_user(
        self, name: str, role: str, tenant: str, password: str | None, *, service: bool = False
    ) -> UserRecord:
        validate_username(name)
        self._role(role)
        validate_tenant(tenant)
        if service and password:
            raise InputError("service accounts have no password; use API keys")
        if not service and not password:
            raise InputError("a user needs a password (service accounts use --service)")
        pw_hash = hash_password(password) if password else None
        kind = "service" if service else "user"
        user = self.store.add_user(name, kind=kind, role=role, tenant=tenant, password_hash=pw_hash)
        self._record("user.add", target=name, role=role, tenant_id=tenant, kind=kind)
        return user

    def list_users(self) -> list[UserRecord]:
        return self.store.list_users()

    def disable(self, name: str, disabled: bool = True) -> None:
        self.store.set_disabled(name, disabled)
        self._record("user.disable" if disabled else "user.enable", target=name)

    def set_role(self, name: str, role: str) -> None:
        self.store.set_role(name, self._role(role))
        self._record("user.set_role", target=name, role=role)

    def add_tenant(self, name: str, tenant: str) -> None:
        self.store.add_tenant(name, validate_tenant(tenant))
        self._record("user.add_tenant", target=name, tenant_id=tenant)

    def create_key(
        self, user: str, name: str, expires_days: float | None
    ) -> tuple[ApiKeyRecord, str]:
        """The stored record and the key itself (shown once, never stored)."""
        if expires_days is not None and expires_days <= 0:
            raise InputError("--expires-days must be positive")
        expires = time.time() + expires_days * 86400 if expires_days else None
        key_id, key, key_hash = new_api_key()
        record = self.store.add_key(key_id, user, name, key_hash, expires)
        self._record("key.create", target=user, key_id=key_id, expires_at=expires)
        return record, key

    def list_keys(self, user: str | None = None) -> list[ApiKeyRecord]:
        return self.store.list_keys(user)

    def revoke_key(self, key_id: str) -> None:
        self.store.revoke_key(key_id)
        self._record("key.revoke", key_id=key_id)
