"""The identity store: users and service accounts, their tenants, API keys, sessions
(refresh-token families, each recording the API key it was made with), refresh tokens,
revoked access tokens and login attempts, over ``db.Database``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from codeweaver.auth.db import Database
from codeweaver.errors import InputError, NotFoundError

__all__ = [
    "ApiKeyRecord",
    "FamilyRecord",
    "IdentityStore",
    "RefreshOutcome",
    "RefreshResult",
    "SessionState",
    "UserRecord",
]

RefreshOutcome = Literal["ok", "unknown", "expired", "revoked", "reused", "key revoked"]


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


@dataclass(frozen=True, slots=True)
class FamilyRecord:
    """A session (refresh-token family) with the state of the API key it was made with."""

    family_id: str
    user: str
    key_id: str | None
    revoked_at: float | None
    key_found: bool
    key_revoked_at: float | None
    key_expires_at: float | None

    def problem(self, now: float) -> str | None:
        """Why the session's tokens no longer work, or None."""
        if self.revoked_at is not None:
            return "session revoked"
        if self.key_id is None:
            return None
        if not self.key_found or self.key_revoked_at is not None:
            return "the API key of this session is revoked"
        if self.key_expires_at is not None and self.key_expires_at <= now:
            return "the API key of this session is expired"
        return None


class SessionState(NamedTuple):
    """What one request's access token leans on, read in one round trip."""

    user: UserRecord | None
    jti_revoked: bool
    family: FamilyRecord | None  # None: no family asked for, or no such family


class RefreshResult(NamedTuple):
    outcome: RefreshOutcome
    user: str
    family: str
    key_id: str | None


_USER_COLS = "name, kind, role, primary_tenant, disabled, created_at, password_hash"
# a family row joined to its API key: f (token_families) and k (api_keys)
_FAMILY_COLS = (
    "f.family_id, f.user_name, f.key_id, f.revoked_at, k.key_id, k.revoked_at, k.expires_at"
)
_FAMILY_JOIN = "LEFT JOIN api_keys k ON k.key_id = f.key_id"
# count a login attempt unless the account is locked or this window's attempts are used
# up: one statement, atomic on both backends (the row is locked by the upsert)
_CLAIM_LOGIN = (
    "INSERT INTO login_attempts (user_name, window_start, attempts, locked_until) "
    "VALUES (?, ?, 1, 0) ON CONFLICT (user_name) DO UPDATE SET "
    "attempts = CASE WHEN login_attempts.window_start <= ? THEN 1 "
    "ELSE login_attempts.attempts + 1 END, "
    "window_start = CASE WHEN login_attempts.window_start <= ? THEN ? "
    "ELSE login_attempts.window_start END "
    "WHERE login_attempts.locked_until <= ? "
    "AND (login_attempts.attempts < ? OR login_attempts.window_start <= ?) "
    "RETURNING attempts"
)
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

    def session(self, name: str, jti: str | None = None, family: str | None = None) -> SessionState:
        """The user with its tenants, whether access token ``jti`` is revoked, and the
        session ``family`` with its API key: one round trip (this runs on every request)."""
        cols = ", ".join(f"u.{c.strip()}" for c in _USER_COLS.split(","))
        with self.db.read() as cur:
            rows = cur.all(
                f"SELECT {cols}, t.tenant, "
                "(SELECT COUNT(*) FROM revoked_tokens r WHERE r.jti = ?), "
                f"{_FAMILY_COLS} FROM users u "
                "LEFT JOIN user_tenants t ON t.user_name = u.name "
                f"LEFT JOIN token_families f ON f.family_id = ? {_FAMILY_JOIN} "
                "WHERE u.name = ? ORDER BY t.tenant",
                (jti or "", family or "", name),
            )
        if not rows:
            return SessionState(None, False, None)
        tenants = tuple(r[7] for r in rows if r[7] is not None)
        return SessionState(_user(rows[0][:7], tenants), bool(rows[0][8]), _family(rows[0][9:]))

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
            families = tx.all(
                "SELECT family_id FROM token_families WHERE key_id = ? AND revoked_at IS NULL",
                (key_id,),
            )
            for (family,) in families:  # the sessions made with the key end with it
                _revoke_family(tx, family, time.time())

    # ------------------------------------------------ sessions, refresh tokens
    def start_session(
        self, token_hash: str, family: str, user: str, key_id: str | None, expires_at: float
    ) -> None:
        """A new session (made with API key ``key_id``, if any) and its first refresh token."""
        now = time.time()
        with self.db.tx(write=True) as tx:
            tx.execute(
                "INSERT INTO token_families (family_id, user_name, key_id, created_at) "
                "VALUES (?, ?, ?, ?)",
                (family, user, key_id, now),
            )
            _insert_refresh(tx, token_hash, family, user, now, expires_at)

    def add_refresh(self, token_hash: str, family: str, user: str, expires_at: float) -> None:
        with self.db.tx(write=True) as tx:
            _insert_refresh(tx, token_hash, family, user, time.time(), expires_at)

    def use_refresh(self, token_hash: str, now: float) -> RefreshResult:
        """Mark a refresh token used. Reuse revokes the family; so does a revoked or
        expired API key behind the session."""
        with self.db.tx(write=True) as tx:
            row = tx.one(
                "SELECT r.family_id, r.user_name, r.expires_at, r.used_at, r.revoked_at, "
                f"{_FAMILY_COLS} FROM refresh_tokens r "
                f"LEFT JOIN token_families f ON f.family_id = r.family_id {_FAMILY_JOIN} "
                "WHERE r.token_hash = ?",
                (token_hash,),
            )
            if row is None:
                return RefreshResult("unknown", "", "", None)
            family, user, expires_at, used_at, revoked_at = row[:5]
            record = _family(row[5:])
            outcome = _refresh_outcome(record, used_at, revoked_at, expires_at, now)
            if outcome == "ok":
                claimed = tx.execute(
                    "UPDATE refresh_tokens SET used_at = ? "
                    "WHERE token_hash = ? AND used_at IS NULL",
                    (now, token_hash),
                )
                outcome = "ok" if claimed else "reused"  # a concurrent refresh won: reuse
            if outcome in ("reused", "key revoked"):
                _revoke_family(tx, family, now)
            return RefreshResult(outcome, user, family, record.key_id if record else None)

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
            row = tx.one("SELECT locked_until FROM login_attempts WHERE user_name = ?", (name,))
        return float(row[0]) if row and row[0] > 0 else None

    def claim_login(self, name: str, now: float, window: float, attempts: int) -> bool:
        """Count a login attempt BEFORE its password is checked. False (nothing counted)
        while the account is locked or has used its ``attempts`` in the current window:
        however many logins run at once, at most ``attempts`` checks happen per window."""
        start = now - window
        with self.db.tx(write=True) as tx:
            row = tx.one(_CLAIM_LOGIN, (name, now, start, start, now, now, attempts, start))
        return row is not None

    def record_failure(
        self, name: str, now: float, window: float, attempts: int, lock_for: float
    ) -> bool:
        """A counted attempt failed: True when it locks the account (its window's
        ``attempts`` are used up)."""
        with self.db.tx(write=True) as tx:
            tx.execute(
                "DELETE FROM login_attempts WHERE window_start < ? AND locked_until < ?",
                (now - window, now),
            )
            locked = tx.execute(
                "UPDATE login_attempts SET locked_until = ?, attempts = 0, window_start = ? "
                "WHERE user_name = ? AND attempts >= ? AND locked_until <= ?",
                (now + lock_for, now, name, attempts, now),
            )
        return locked > 0

    def clear_failures(self, name: str) -> None:
        """A successful login forgets the attempts (not a lock set meanwhile)."""
        with self.db.tx(write=True) as tx:
            tx.execute(
                "DELETE FROM login_attempts WHERE user_name = ? AND locked_until <= ?",
                (name, time.time()),
            )


def _revoke_family(tx: Any, family: str, now: float) -> None:
    for table in ("refresh_tokens", "token_families"):  # the order use_refresh locks in
        tx.execute(
            f"UPDATE {table} SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
            (now, family),
        )


def _insert_refresh(
    tx: Any, token_hash: str, family: str, user: str, now: float, expires_at: float
) -> None:
    tx.execute(
        "INSERT INTO refresh_tokens (token_hash, family_id, user_name, issued_at, "
        "expires_at) VALUES (?, ?, ?, ?, ?)",
        (token_hash, family, user, now, expires_at),
    )


def _family(row: tuple[Any, ...]) -> FamilyRecord | None:
    """A family from ``_FAMILY_COLS`` (None when the join found none)."""
    family, user, key_id, revoked_at, found_key, key_revoked, key_expires = row
    if family is None:
        return None
    return FamilyRecord(
        family, user, key_id, revoked_at, found_key is not None, key_revoked, key_expires
    )


def _refresh_outcome(
    family: FamilyRecord | None,
    used_at: float | None,
    revoked_at: float | None,
    expires_at: float,
    now: float,
) -> RefreshOutcome:
    if used_at is not None:
        return "reused"
    if revoked_at is not None or family is None or family.revoked_at is not None:
        return "revoked"
    if expires_at <= now:
        return "expired"
    return "key revoked" if family.problem(now) else "ok"


def _user(row: tuple[Any, ...], tenants: tuple[str, ...]) -> UserRecord:
    name, kind, role, primary, disabled, created, pw_hash = row
    return UserRecord(name, kind, role, primary, tenants, bool(disabled), created, pw_hash)
