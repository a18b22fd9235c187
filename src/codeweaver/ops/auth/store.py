"""The identity store: users and service accounts, their tenants, API keys, refresh
tokens, revoked access tokens and login failures, over ``db.Database``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from codeweaver.errors import InputError, NotFoundError
from codeweaver.ops.auth.db import Database

__all__ = ["ApiKeyRecord", "IdentityStore", "RefreshOutcome", "UserRecord"]

RefreshOutcome = Literal["ok", "unknown", "expired", "revoked", "reused"]


@dataclass(frozen=True, slots=True)
class UserRecord:
    name: str
    kind: str  # "user" | "service"
    role: str
    primary_tenant: str
    tenants: tuple[str, ...]
    disabled: bool
    created_at: float
    password_hash: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "role": self.role,
            "tenant": self.primary_tenant,
            "tenants": list(self.tenants),
            "disabled": self.disabled,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    key_id: str
    user: str
    name: str
    secret_hash: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    def public(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "user": self.user,
            "name": self.name,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked": self.revoked_at is not None,
        }


_USER_COLS = "name, kind, role, primary_tenant, disabled, created_at, password_hash"
_KEY_COLS = "key_id, user_name, name, secret_hash, created_at, expires_at, revoked_at"


class IdentityStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------- users
    def add_user(
        self, name: str, *, kind: str, role: str, tenant: str, password_hash: str | None
    ) -> UserRecord:
        with self.db.tx(write=True) as tx:
            if tx.one("SELECT 1 FROM users WHERE name = ?", (name,)):
                raise InputError(f"user {name!r} already exists")
            tx.execute(
                f"INSERT INTO users ({_USER_COLS}) VALUES (?, ?, ?, ?, 0, ?, ?)",
                (name, kind, role, tenant, time.time(), password_hash),
            )
            tx.execute("INSERT INTO user_tenants (user_name, tenant) VALUES (?, ?)", (name, tenant))
        return self.require_user(name)

    def get_user(self, name: str) -> UserRecord | None:
        with self.db.tx() as tx:
            row = tx.one(f"SELECT {_USER_COLS} FROM users WHERE name = ?", (name,))
            if row is None:
                return None
            tenants = tx.all(
                "SELECT tenant FROM user_tenants WHERE user_name = ? ORDER BY tenant", (name,)
            )
        return _user(row, tuple(t[0] for t in tenants))

    def session_user(self, name: str, jti: str | None = None) -> tuple[UserRecord | None, bool]:
        """The user with its tenants, and whether access token ``jti`` is revoked: one
        round trip (this runs on every request)."""
        cols = ", ".join(f"u.{c.strip()}" for c in _USER_COLS.split(","))
        with self.db.read() as cur:
            rows = cur.all(
                f"SELECT {cols}, t.tenant, "
                "(SELECT COUNT(*) FROM revoked_tokens r WHERE r.jti = ?) "
                "FROM users u LEFT JOIN user_tenants t ON t.user_name = u.name "
                "WHERE u.name = ? ORDER BY t.tenant",
                (jti or "", name),
            )
        if not rows:
            return None, False
        tenants = tuple(r[7] for r in rows if r[7] is not None)
        return _user(rows[0][:7], tenants), bool(rows[0][8])

    def require_user(self, name: str) -> UserRecord:
        user = self.get_user(name)
        if user is None:
            raise NotFoundError(f"unknown user {name!r}")
        return user

    def list_users(self) -> list[UserRecord]:
        with self.db.tx() as tx:
            rows = tx.all(f"SELECT {_USER_COLS} FROM users ORDER BY name")
            pairs = tx.all("SELECT user_name, tenant FROM user_tenants ORDER BY tenant")
        tenants: dict[str, list[str]] = {}
        for user, tenant in pairs:
            tenants.setdefault(user, []).append(tenant)
        return [_user(r, tuple(tenants.get(r[0], ()))) for r in rows]

    def _update(self, name: str, sql: str, params: tuple[Any, ...]) -> None:
        with self.db.tx(write=True) as tx:
            if tx.execute(sql, (*params, name)) == 0:
                raise NotFoundError(f"unknown user {name!r}")

    def set_disabled(self, name: str, disabled: bool) -> None:
        self._update(name, "UPDATE users SET disabled = ? WHERE name = ?", (int(disabled),))

    def set_role(self, name: str, role: str) -> None:
        self._update(name, "UPDATE users SET role = ? WHERE name = ?", (role,))

    def set_password(self, name: str, password_hash: str) -> None:
        self._update(name, "UPDATE users SET password_hash = ? WHERE name = ?", (password_hash,))

    def add_tenant(self, name: str, tenant: str) -> None:
        self.require_user(name)
        with self.db.tx(write=True) as tx:
            if not tx.one(
                "SELECT 1 FROM user_tenants WHERE user_name = ? AND tenant = ?", (name, tenant)
            ):
                tx.execute(
                    "INSERT INTO user_tenants (user_name, tenant) VALUES (?, ?)", (name, tenant)
                )

    # ---------------------------------------------------------------- api keys
    def add_key(
        self, key_id: str, user: str, name: str, secret_hash: str, expires_at: float | None
    ) -> ApiKeyRecord:
        self.require_user(user)
        with self.db.tx(write=True) as tx:
            tx.execute(
                f"INSERT INTO api_keys ({_KEY_COLS}) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (key_id, user, name, secret_hash, time.time(), expires_at),
            )
        key = self.get_key(key_id)
        assert key is not None
        return key

    def get_key(self, key_id: str) -> ApiKeyRecord | None:
        with self.db.read() as cur:
            row = cur.one(f"SELECT {_KEY_COLS} FROM api_keys WHERE key_id = ?", (key_id,))
        return ApiKeyRecord(*row) if row else None

    def list_keys(self, user: str | None = None) -> list[ApiKeyRecord]:
        with self.db.tx() as tx:
            if user is None:
                rows = tx.all(f"SELECT {_KEY_COLS} FROM api_keys ORDER BY created_at")
            else:
                rows = tx.all(
                    f"SELECT {_KEY_COLS} FROM api_keys WHERE user_name = ? ORDER BY created_at",
                    (user,),
                )
        return [ApiKeyRecord(*r) for r in rows]

    def revoke_key(self, key_id: str) -> None:
        with self.db.tx(write=True) as tx:
            n = tx.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (time.time(), key_id),
            )
            if n == 0 and not tx.one("SELECT 1 FROM api_keys WHERE key_id = ?", (key_id,)):
                raise NotFoundError(f"unknown API key {key_id!r}")

    # ---------------------------------------------------------- refresh tokens
    def add_refresh(self, token_hash: str, family: str, user: str, expires_at: float) -> None:
        with self.db.tx(write=True) as tx:
            tx.execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, user_name, issued_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?)",
                (token_hash, family, user, time.time(), expires_at),
            )

    def use_refresh(self, token_hash: str, now: float) -> tuple[RefreshOutcome, str, str]:
        """Mark a refresh token used: (outcome, user, family). Reuse revokes the family."""
        with self.db.tx(write=True) as tx:
            row = tx.one(
                "SELECT family_id, user_name, expires_at, used_at, revoked_at "
                "FROM refresh_tokens WHERE token_hash = ?",
                (token_hash,),
            )
            if row is None:
                return "unknown", "", ""
            family, user, expires_at, used_at, revoked_at = row
            if used_at is not None:
                _revoke_family(tx, family, now)
                return "reused", user, family
            if revoked_at is not None:
                return "revoked", user, family
            if expires_at <= now:
                return "expired", user, family
            claimed = tx.execute(
                "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
                (now, token_hash),
            )
            if claimed == 0:  # a concurrent refresh won: that is reuse too
                _revoke_family(tx, family, now)
                return "reused", user, family
            return "ok", user, family

    def family_of(self, token_hash: str) -> tuple[str, str] | None:
        with self.db.tx() as tx:
            row = tx.one(
                "SELECT family_id, user_name FROM refresh_tokens WHERE token_hash = ?",
                (token_hash,),
            )
        return (row[0], row[1]) if row else None

    def revoke_family(self, family: str) -> None:
        with self.db.tx(write=True) as tx:
            _revoke_family(tx, family, time.time())

    # ------------------------------------------------------ revoked access jti
    def revoke_jti(self, jti: str, expires_at: float) -> None:
        with self.db.tx(write=True) as tx:
            tx.execute("DELETE FROM revoked_tokens WHERE expires_at < ?", (time.time() - 60,))
            if not tx.one("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)):
                tx.execute(
                    "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?)", (jti, expires_at)
                )

    def is_revoked(self, jti: str) -> bool:
        with self.db.read() as cur:
            return cur.one("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)) is not None

    # ---------------------------------------------------------------- lockout
    def locked_until(self, name: str) -> float | None:
        with self.db.tx() as tx:
            row = tx.one("SELECT until_at FROM lockouts WHERE user_name = ?", (name,))
        return float(row[0]) if row else None

    def record_failure(
        self, name: str, now: float, window: float, attempts: int, lock_for: float
    ) -> bool:
        """Count a failed login; True when it locks the account."""
        with self.db.tx(write=True) as tx:
            tx.execute("DELETE FROM login_failures WHERE at < ?", (now - window,))
            tx.execute("INSERT INTO login_failures (user_name, at) VALUES (?, ?)", (name, now))
            row = tx.one("SELECT COUNT(*) FROM login_failures WHERE user_name = ?", (name,))
            if row is None or int(row[0]) < attempts:
                return False
            tx.execute("DELETE FROM lockouts WHERE user_name = ?", (name,))
            tx.execute(
                "INSERT INTO lockouts (user_name, until_at) VALUES (?, ?)", (name, now + lock_for)
            )
            tx.execute("DELETE FROM login_failures WHERE user_name = ?", (name,))
            return True

    def clear_failures(self, name: str) -> None:
        with self.db.tx(write=True) as tx:
            tx.execute("DELETE FROM login_failures WHERE user_name = ?", (name,))
            tx.execute("DELETE FROM lockouts WHERE user_name = ?", (name,))


def _revoke_family(tx: Any, family: str, now: float) -> None:
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
        (now, family),
    )


def _user(row: tuple[Any, ...], tenants: tuple[str, ...]) -> UserRecord:
    name, kind, role, primary, disabled, created, pw_hash = row
    return UserRecord(name, kind, role, primary, tenants, bool(disabled), created, pw_hash)
