"""Access tokens: signed JWTs with exactly one accepted algorithm.

Issued tokens carry ``sub``, ``iss``, ``aud``, ``iat``, ``nbf``, ``exp``, ``jti`` and
``typ: access``; all are required when decoding. They also name their session: ``fam``
(the refresh-token family, so that revoking it ends its access tokens at once) and, for
a session opened with an API key, ``key_id`` (so that revoking the key ends it).
``alg: none``, any algorithm other than the configured one (HS/RS confusion included)
and clock skew beyond the configured leeway (at most 30 s) are refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from codeweaver.config import AuthSettings
from codeweaver.errors import AuthenticationError, ConfigError

__all__ = ["AccessClaims", "TokenCodec", "header_alg", "load_keys"]

MAX_SKEW = 30
MIN_SECRET_BYTES = 32
_REQUIRED = ["sub", "iss", "aud", "iat", "nbf", "exp", "jti"]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str
    jti: str
    expires_at: float
    family: str | None = None  # the session (refresh-token family)
    key_id: str | None = None  # the API key the session was opened with


def _optional_str(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is not None and not isinstance(value, str):
        raise AuthenticationError(f"invalid token: bad {name!r} claim")
    return value


def _read(path: Path, what: str) -> bytes:
    try:
        return path.expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc


def _hs_secret(cfg: AuthSettings, home: Path) -> bytes:
    if cfg.secret is not None:
        secret = cfg.secret.get_secret_value().encode()
    else:
        path = cfg.secret_file or home / "auth" / "jwt.secret"
        if cfg.secret_file is None and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd_path = path.with_suffix(".tmp")
            fd_path.write_text(secrets.token_hex(32), encoding="ascii")
            fd_path.chmod(0o600)
            fd_path.replace(path)
        secret = _read(path, "auth.secret_file").strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"invalid setting 'auth.secret' (CODEWEAVER_AUTH__SECRET): HS256 needs at least "
            f"{MIN_SECRET_BYTES} bytes"
        )
    return secret


def _pem_keys(cfg: AuthSettings) -> tuple[Any, Any]:
    if cfg.private_key_file is None and cfg.public_key_file is None:
        raise ConfigError(
            f"invalid setting 'auth.private_key_file' (CODEWEAVER_AUTH__PRIVATE_KEY_FILE): "
            f"{cfg.algorithm} needs a key pair"
        )
    private = public = None
    try:
        if cfg.private_key_file is not None:
            data = _read(cfg.private_key_file, "auth.private_key_file")
            private = serialization.load_pem_private_key(data, password=None)
            public = private.public_key()
        if cfg.public_key_file is not None:
            public = serialization.load_pem_public_key(_read(cfg.public_key_file, "key file"))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid {cfg.algorithm} key file: {exc}") from None
    want = rsa.RSAPublicKey if cfg.algorithm == "RS256" else ec.EllipticCurvePublicKey
    if not isinstance(public, want):
        raise ConfigError(f"the configured key is not a {cfg.algorithm} key")
    if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name != "secp256r1":
        raise ConfigError("ES256 needs a P-256 (secp256r1) key")
    return private, public


def load_keys(cfg: AuthSettings, home: Path) -> tuple[Any, Any]:
    """(signing key, verifying key) for the configured algorithm."""
    if cfg.algorithm == "HS256":
        secret = _hs_secret(cfg, home)
        return secret, secret
    return _pem_keys(cfg)


def header_alg(token: str) -> object:
    """The ``alg`` of a JWT's header (read once, cheaply, before full verification)."""
    head = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error):
        raise AuthenticationError("malformed token") from None
    if not isinstance(header, dict) or token.count(".") != 2:
        raise AuthenticationError("malformed token")
    return header.get("alg")


class TokenCodec:
    def __init__(
        self,
        algorithm: str,
        signing_key: Any,
        verify_key: Any,
        *,
        issuer: str,
        audience: str,
        ttl: int,
        skew: int = MAX_SKEW,
    ) -> None:
        if skew > MAX_SKEW:
            raise ConfigError(f"clock skew must be at most {MAX_SKEW} seconds")
        self.algorithm = algorithm
        self._sign = signing_key
        self._verify = verify_key
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self.skew = skew

    def issue(
        self,
        subject: str,
        now: float | None = None,
        *,
        family: str | None = None,
        key_id: str | None = None,
    ) -> tuple[str, AccessClaims]:
        if self._sign is None:
            raise ConfigError("no private key configured: this server can only verify tokens")
        issued = int(now if now is not None else time.time())
        claims = {
            "sub": subject,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + self.ttl,
            "jti": uuid.uuid4().hex,
            "typ": "access",
        }
        if family is not None:
            claims["fam"] = family
        if key_id is not None:
            claims["key_id"] = key_id
        token = jwt.encode(claims, self._sign, algorithm=self.algorithm)
        jti, expires = str(claims["jti"]), float(issued + self.ttl)
        return token, AccessClaims(subject, jti, expires, family, key_id)

    def decode(self, token: str) -> AccessClaims:
        """The verified claims, or AuthenticationError naming what was wrong."""
        if header_alg(token) != self.algorithm:
            raise AuthenticationError("token algorithm not accepted")
        try:
            claims = jwt.decode(
                token,
                self._verify,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.skew,
                options={"require": _REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthenticationError("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError("token audience not accepted") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationError("token issuer not accepted") from None
        except jwt.InvalidSignatureError:
            raise AuthenticationError("token signature invalid") from None
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError(f"invalid token: {type(exc).__name__}") from None
        if claims.get("typ") != "access" or not isinstance(claims.get("sub"), str):
            raise AuthenticationError("not an access token")
        return AccessClaims(
            claims["sub"],
            str(claims["jti"]),
            float(claims["exp"]),
            _optional_str(claims, "fam"),
            _optional_str(claims, "key_id"),
        )
