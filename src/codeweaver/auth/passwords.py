"""Password hashing with argon2id (argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from codeweaver.errors import InputError

__all__ = ["MIN_PASSWORD_CHARS", "check_password_strength", "hash_password", "verify_password"]

MIN_PASSWORD_CHARS = 12
_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
# verified against when the user does not exist, so both paths cost the same
_DUMMY = _HASHER.hash("codeweaver-dummy-password")


def check_password_strength(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"password must be at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > 1024:
        raise InputError("password must be at most 1024 characters")
    return password


def hash_password(password: str) -> str:
    return _HASHER.hash(check_password_strength(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash a dummy is checked (constant work)."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
