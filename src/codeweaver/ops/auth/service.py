"""Authentication: logins, token pairs, refresh rotation, logout, per-request checks.

A login (password or API key) yields an access token (JWT) and a refresh token from a
new *family*. Refreshing uses the presented token up and returns a new pair of the
same family; presenting a used token again revokes the whole family. Each request's
credentials (an access token or an API key) are checked against the store, so a
disabled user, a revoked key or a logged-out token stop working at once.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from codeweaver.errors import AuthenticationError, PermissionDeniedError
from codeweaver.ops.auth.passwords import verify_password
from codeweaver.ops.auth.principal import Principal
from codeweaver.ops.auth.rbac import Roles
from codeweaver.ops.auth.secrets_fmt import (
    API_KEY_PREFIX,
    digest,
    digests_match,
    new_refresh_token,
    parse_api_key,
)
from codeweaver.ops.auth.store import IdentityStore, UserRecord
from codeweaver.ops.auth.tokens import TokenCodec

__all__ = ["AuthService", "LockoutPolicy", "TokenPair"]

INVALID_LOGIN = "invalid username or password"


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    attempts: int = 5
    window: float = 300.0
    duration: float = 900.0


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    user: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "refresh_expires_in": self.refresh_expires_in,
        }


class AuthService:
    def __init__(
        self,
        store: IdentityStore,
        codec: TokenCodec,
        roles: Roles,
        *,
        refresh_ttl: int,
        lockout: LockoutPolicy,
    ) -> None:
        self.store = store
        self.codec = codec
        self.roles = roles
        self.refresh_ttl = refresh_ttl
        self.lockout = lockout

    # ------------------------------------------------------------- principal
    def principal(self, user: UserRecord, via: str, **token: Any) -> Principal:
        roles = (user.role,)
        return Principal(
            user=user.name,
            kind=user.kind,
            roles=roles,
            tenants=user.tenants,
            tenant=user.primary_tenant,
            permissions=self.roles.permissions(roles),
            via=via,
            **token,
        )

    def _active(self, name: str) -> UserRecord:
        user, _ = self.store.session_user(name)
        if user is None or user.disabled:
            raise AuthenticationError("account disabled or unknown")
        return user

    def authenticate(self, credential: str, now: float | None = None) -> Principal:
        """The principal behind a bearer credential (access token or API key)."""
        if credential.startswith(API_KEY_PREFIX):
            return self.principal(self._key_user(credential, now), "api_key")
        claims = self.codec.decode(credential)
        user, revoked = self.store.session_user(claims.subject, claims.jti)
        if revoked:
            raise AuthenticationError("token revoked")
        if user is None or user.disabled:
            raise AuthenticationError("account disabled or unknown")
        return self.principal(user, "password", jti=claims.jti, expires_at=claims.expires_at)

    def _key_user(self, key: str, now: float | None) -> UserRecord:
        key_id = parse_api_key(key)
        record = self.store.get_key(key_id) if key_id else None
        if record is None or not digests_match(record.secret_hash, digest(key)):
            raise AuthenticationError("invalid API key")
        if record.revoked_at is not None:
            raise AuthenticationError("API key revoked")
        if record.expires_at is not None and record.expires_at <= (now or time.time()):
            raise AuthenticationError("API key expired")
        return self._active(record.user)

    @staticmethod
    def authorize(principal: Principal, permission: str) -> None:
        if not principal.allows(permission):
            raise PermissionDeniedError(f"permission denied: {permission} is required")

    # ---------------------------------------------------------------- logins
    def _pair(self, user: str, family: str | None = None) -> TokenPair:
        access, _claims = self.codec.issue(user)
        refresh = new_refresh_token()
        self.store.add_refresh(
            digest(refresh), family or uuid.uuid4().hex, user, time.time() + self.refresh_ttl
        )
        return TokenPair(access, refresh, self.codec.ttl, self.refresh_ttl, user)

    def login_password(self, username: str, password: str) -> TokenPair:
        now = time.time()
        until = self.store.locked_until(username)
        if until is not None and until > now:
            raise AuthenticationError("too many failed logins; account locked, try again later")
        user = self.store.get_user(username)
        ok = verify_password(user.password_hash if user else None, password)
        if not ok or user is None or user.disabled:
            lock = self.lockout
            if self.store.record_failure(username, now, lock.window, lock.attempts, lock.duration):
                raise AuthenticationError("too many failed logins; account locked, try again later")
            raise AuthenticationError(INVALID_LOGIN)
        self.store.clear_failures(username)
        return self._pair(user.name)

    def login_api_key(self, key: str) -> TokenPair:
        return self._pair(self._key_user(key, None).name)

    def refresh(self, refresh_token: str) -> TokenPair:
        outcome, user, family = self.store.use_refresh(digest(refresh_token), time.time())
        if outcome == "reused":
            raise AuthenticationError("refresh token reused; the session has been revoked")
        if outcome != "ok":
            raise AuthenticationError(f"refresh token {outcome}")
        self._active(user)
        return self._pair(user, family)

    def logout(self, principal: Principal, refresh_token: str | None) -> None:
        """Revoke the caller's access token and, if given, its refresh-token family."""
        if principal.jti is not None and principal.expires_at is not None:
            self.store.revoke_jti(principal.jti, principal.expires_at)
        if refresh_token:
            found = self.store.family_of(digest(refresh_token))
            if found is not None and found[1] == principal.user:
                self.store.revoke_family(found[0])

    def refresh_user(self, refresh_token: str) -> str | None:
        """The owner of a refresh token (for audit records), if known."""
        found = self.store.family_of(digest(refresh_token))
        return found[1] if found else None
