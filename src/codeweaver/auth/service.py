"""Authentication: logins, token pairs, refresh rotation, logout, per-request checks.

A login (password or API key) opens a *session*: a refresh-token family, which records
the API key it was opened with. It yields an access token (JWT) naming the family (and
the key) and a refresh token of the family. Refreshing uses the presented token up and
returns a new pair of the same family; presenting a used token again revokes the whole
family. Each request's credentials (an access token or an API key) are checked against
the store, so a disabled user, a revoked key, a revoked family (reuse, logout, the key
revoked) or a logged-out token stop working at once.

Login attempts are counted before the password is checked (``store.claim_login``), so
that at most ``lockout.attempts`` checks happen per window, however many run at once.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from codeweaver.auth.passwords import verify_password
from codeweaver.auth.principal import Principal
from codeweaver.auth.rbac import Roles
from codeweaver.auth.secrets_fmt import (
    API_KEY_PREFIX,
    digest,
    digests_match,
    new_refresh_token,
    parse_api_key,
)
from codeweaver.auth.store import ApiKeyRecord, FamilyRecord, IdentityStore, UserRecord
from codeweaver.auth.tokens import AccessClaims, TokenCodec
from codeweaver.errors import AuthenticationError, PermissionDeniedError

__all__ = ["AuthService", "LockoutPolicy", "TokenPair"]

INVALID_LOGIN = "invalid username or password"
LOCKED = "too many failed logins; account locked, try again later"


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
        user = self.store.session(name).user
        if user is None or user.disabled:
            raise AuthenticationError("account disabled or unknown")
        return user

    def authenticate(self, credential: str, now: float | None = None) -> Principal:
        """The principal behind a bearer credential (access token or API key)."""
        if credential.startswith(API_KEY_PREFIX):
            key, user = self._key_user(credential, now)
            return self.principal(user, "api_key", key_id=key.key_id)
        claims = self.codec.decode(credential)
        found, revoked, family = self.store.session(claims.subject, claims.jti, claims.family)
        if revoked:
            raise AuthenticationError("token revoked")
        if found is None or found.disabled:
            raise AuthenticationError("account disabled or unknown")
        if claims.family is not None or claims.key_id is not None:
            _check_session(claims, family, now or time.time())
        return self.principal(
            found,
            "api_key" if claims.key_id is not None else "password",
            jti=claims.jti,
            expires_at=claims.expires_at,
            family=claims.family,
            key_id=claims.key_id,
        )

    def _key_user(self, key: str, now: float | None) -> tuple[ApiKeyRecord, UserRecord]:
        key_id = parse_api_key(key)
        record = self.store.get_key(key_id) if key_id else None
        if record is None or not digests_match(record.secret_hash, digest(key)):
            raise AuthenticationError("invalid API key")
        if record.revoked_at is not None:
            raise AuthenticationError("API key revoked")
        if record.expires_at is not None and record.expires_at <= (now or time.time()):
            raise AuthenticationError("API key expired")
        return record, self._active(record.user)

    @staticmethod
    def authorize(principal: Principal, permission: str) -> None:
        if not principal.allows(permission):
            raise PermissionDeniedError(f"permission denied: {permission} is required")

    # ---------------------------------------------------------------- logins
    def _pair(self, user: str, family: str | None = None, key_id: str | None = None) -> TokenPair:
        """A token pair of ``family`` (None: a new session, opened with ``key_id``)."""
        refresh = new_refresh_token()
        expires = time.time() + self.refresh_ttl
        if family is None:
            family = uuid.uuid4().hex
            self.store.start_session(digest(refresh), family, user, key_id, expires)
        else:
            self.store.add_refresh(digest(refresh), family, user, expires)
        access, _claims = self.codec.issue(user, family=family, key_id=key_id)
        return TokenPair(access, refresh, self.codec.ttl, self.refresh_ttl, user)

    def login_password(self, username: str, password: str) -> TokenPair:
        lock = self.lockout
        if not self.store.claim_login(username, time.time(), lock.window, lock.attempts):
            raise AuthenticationError(LOCKED)
        user = self.store.get_user(username)
        ok = verify_password(user.password_hash if user else None, password)
        if not ok or user is None or user.disabled:
            now = time.time()
            if self.store.record_failure(username, now, lock.window, lock.attempts, lock.duration):
                raise AuthenticationError(LOCKED)
            raise AuthenticationError(INVALID_LOGIN)
        self.store.clear_failures(username)
        return self._pair(user.name)

    def login_api_key(self, key: str) -> TokenPair:
        record, user = self._key_user(key, None)
        return self._pair(user.name, key_id=record.key_id)

    def refresh(self, refresh_token: str) -> TokenPair:
        outcome, user, family, key_id = self.store.use_refresh(digest(refresh_token), time.time())
        if outcome == "reused":
            raise AuthenticationError("refresh token reused; the session has been revoked")
        if outcome == "key revoked":
            raise AuthenticationError(
                "refresh token refused: the API key of this session is revoked or expired"
            )
        if outcome != "ok":
            raise AuthenticationError(f"refresh token {outcome}")
        self._active(user)
        return self._pair(user, family, key_id)

    def logout(self, principal: Principal, refresh_token: str | None) -> None:
        """Revoke the caller's access token and its session (with every access and
        refresh token of it) and, if given, the refresh token's family."""
        if principal.jti is not None and principal.expires_at is not None:
            self.store.revoke_jti(principal.jti, principal.expires_at)
        if principal.family is not None:
            self.store.revoke_family(principal.family)
        if refresh_token:
            found = self.store.family_of(digest(refresh_token))
            if found is not None and found[1] == principal.user:
                self.store.revoke_family(found[0])

    def refresh_user(self, refresh_token: str) -> str | None:
        """The owner of a refresh token (for audit records), if known."""
        found = self.store.family_of(digest(refresh_token))
        return found[1] if found else None


def _check_session(claims: AccessClaims, family: FamilyRecord | None, now: float) -> None:
    """An access token naming a session works while the session (and its key) does."""
    if family is None:
        raise AuthenticationError("token refused: its session is unknown")
    if family.user != claims.subject or family.key_id != claims.key_id:
        raise AuthenticationError("token refused: it does not match its session")
    problem = family.problem(now)
    if problem is not None:
        raise AuthenticationError(f"token refused: {problem}")
