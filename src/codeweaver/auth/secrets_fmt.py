"""Formats of the random secrets handed to clients: API keys and refresh tokens.

Both are recognisable by their prefix (``cwk_`` / ``cwr_``), carry 256 bits of
randomness and are stored only as SHA-256 digests (they are random, so a fast hash
is safe; passwords use argon2).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

__all__ = [
    "API_KEY_PREFIX",
    "REFRESH_PREFIX",
    "digest",
    "digests_match",
    "new_api_key",
    "new_refresh_token",
    "parse_api_key",
]

API_KEY_PREFIX = "cwk_"
REFRESH_PREFIX = "cwr_"
_KEY = re.compile(r"^cwk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def digests_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_api_key() -> tuple[str, str, str]:
    """(key id, the full key shown once, digest of the full key)."""
    key_id = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    return key_id, key, digest(key)


def parse_api_key(text: str) -> str | None:
    """The key id of a well-formed API key, else None."""
    match = _KEY.match(text)
    return match.group(1) if match else None


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)
