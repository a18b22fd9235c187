"""Pure auth logic: permissions and roles, JWT validation, API-key and refresh formats,
token buckets, passwords, audit redaction, and which auth mode a bind address gets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from codeweaver.auth.audit import AuditLog
from codeweaver.auth.passwords import hash_password, verify_password
from codeweaver.auth.ratelimit import RateLimiter
from codeweaver.auth.rbac import AUTHENTICATED, PUBLIC, Roles, grants
from codeweaver.auth.secrets_fmt import new_api_key, new_refresh_token, parse_api_key
from codeweaver.auth.setup import effective_mode, is_loopback
from codeweaver.auth.tokens import TokenCodec, load_keys
from codeweaver.config import AuthSettings, Settings
from codeweaver.errors import AuthenticationError, ConfigError, RateLimitedError

SECRET = b"s" * 40


def codec(**kw) -> TokenCodec:
    args = {"issuer": "cw", "audience": "api", "ttl": 900, "skew": 30, **kw}
    return TokenCodec("HS256", SECRET, SECRET, **args)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**over) -> dict:
    now = int(time.time())
    base = {"sub": "alice", "iss": "cw", "aud": "api", "iat": now, "nbf": now,
            "exp": now + 60, "jti": "j", "typ": "access"}  # fmt: skip
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def test_wildcards_and_roles():
    assert grants("codeweaver:*:*", "codeweaver:search:read")
    assert grants("codeweaver:search:*", "codeweaver:search:read")
    assert not grants("codeweaver:search:*", "codeweaver:index:read")
    assert not grants("codeweaver:*:read", "codeweaver:index:write")
    roles = Roles({"auditor": ["codeweaver:audit:read"]})
    assert roles.permissions(["auditor"]) == ("codeweaver:audit:read",)
    assert Roles.allows(roles.permissions(["readonly"]), "codeweaver:search:read")
    assert not Roles.allows(roles.permissions(["readonly"]), "codeweaver:code:read")
    assert not Roles.allows(roles.permissions(["developer"]), "codeweaver:index:write")
    assert Roles.allows(roles.permissions(["manager"]), "codeweaver:index:delete")
    assert Roles.allows(roles.permissions(["manager"]), "codeweaver:metrics:read")
    assert Roles.allows(roles.permissions(["admin"]), "codeweaver:users:admin")
    assert Roles.allows((), PUBLIC) and Roles.allows((), AUTHENTICATED)
    assert roles.permissions(["nope"]) == ()
    with pytest.raises(ConfigError, match="built-in"):
        Roles({"admin": ["codeweaver:*:*"]})
    with pytest.raises(ConfigError, match="invalid permission"):
        Roles({"x": ["search:read"]})


def test_issue_and_decode_round_trip():
    c = codec()
    token, issued = c.issue("alice")
    got = c.decode(token)
    assert got.subject == "alice" and got.jti == issued.jti and got.expires_at == issued.expires_at


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"exp": -31}, "expired"),
        ({"nbf": 120}, "not yet valid"),
        ({"iat": 120}, "not yet valid"),
        ({"iss": "evil"}, "issuer"),
        ({"aud": "other"}, "audience"),
        ({"jti": None}, "invalid token"),
        ({"exp": None}, "invalid token"),
        ({"typ": "refresh"}, "not an access token"),
    ],
)
def test_bad_claims_are_refused(over, reason):
    now = int(time.time())  # times are offsets from now, taken when the test runs
    over = {k: now + v if k in ("exp", "nbf", "iat") and v is not None else v
            for k, v in over.items()}  # fmt: skip
    token = jwt.encode(claims(**over), SECRET, algorithm="HS256")
    with pytest.raises(AuthenticationError, match=reason):
        codec().decode(token)


def test_skew_within_30_seconds_is_accepted():
    token = jwt.encode(claims(exp=int(time.time()) - 20), SECRET, algorithm="HS256")
    assert codec().decode(token).subject == "alice"
    with pytest.raises(ConfigError):
        codec(skew=31)


def test_alg_none_wrong_key_and_garbage_are_refused():
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    with pytest.raises(AuthenticationError, match="algorithm"):
        codec().decode(f"{header}.{body}.")
    other = jwt.encode(claims(), b"x" * 40, algorithm="HS256")
    with pytest.raises(AuthenticationError, match="signature"):
        codec().decode(other)
    with pytest.raises(AuthenticationError, match="malformed"):
        codec().decode("not-a-token")
    tampered = jwt.encode(claims(), SECRET, algorithm="HS256").rsplit(".", 1)[0] + ".AAAA"
    with pytest.raises(AuthenticationError):
        codec().decode(tampered)


def _rsa_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, pub


def test_hs_rs_confusion_is_refused(tmp_path):
    key, pub = _rsa_pem()
    rs = TokenCodec("RS256", key, key.public_key(), issuer="cw", audience="api", ttl=60)
    token, _ = rs.issue("alice")
    assert rs.decode(token).subject == "alice"
    # the classic attack: HS256 signed with the public key as the HMAC secret
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    sig = b64(hmac.new(pub, f"{header}.{body}".encode(), hashlib.sha256).digest())
    with pytest.raises(AuthenticationError, match="algorithm"):
        rs.decode(f"{header}.{body}.{sig}")
    # and an RS256 token shown to an HS256 server
    with pytest.raises(AuthenticationError, match="algorithm"):
        codec().decode(jwt.encode(claims(), key, algorithm="RS256"))


def test_key_loading(tmp_path):
    key, pub = _rsa_pem()
    priv = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "rsa.pem").write_bytes(priv)
    (tmp_path / "rsa.pub").write_bytes(pub)
    cfg = AuthSettings(algorithm="RS256", private_key_file=tmp_path / "rsa.pem")
    signing, verifying = load_keys(cfg, tmp_path)
    assert signing is not None and verifying is not None
    with pytest.raises(ConfigError, match="not a ES256 key"):
        load_keys(AuthSettings(algorithm="ES256", public_key_file=tmp_path / "rsa.pub"), tmp_path)
    with pytest.raises(ConfigError, match="key pair"):
        load_keys(AuthSettings(algorithm="ES256"), tmp_path)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ec.pem").write_bytes(
        ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cfg = AuthSettings(algorithm="ES256", private_key_file=tmp_path / "ec.pem")
    es = TokenCodec("ES256", *load_keys(cfg, tmp_path), issuer="i", audience="a", ttl=60)
    assert es.decode(es.issue("bob")[0]).subject == "bob"
    # HS256 without a configured secret: a private random one is made in home
    secret, _ = load_keys(AuthSettings(), tmp_path / "home")
    path = tmp_path / "home" / "auth" / "jwt.secret"
    assert len(secret) >= 32 and path.stat().st_mode & 0o077 == 0
    assert load_keys(AuthSettings(), tmp_path / "home")[0] == secret
    with pytest.raises(ConfigError, match="at least 32"):
        load_keys(AuthSettings(secret="short"), tmp_path)


def test_api_key_and_refresh_formats():
    key_id, key, digest = new_api_key()
    assert key.startswith("cwk_") and parse_api_key(key) == key_id and len(digest) == 64
    assert parse_api_key("cwk_nothex_xxx") is None
    assert parse_api_key(key + "x") is None
    assert new_refresh_token().startswith("cwr_") and new_refresh_token() != new_refresh_token()


def test_token_buckets_per_user_and_tenant():
    now = [0.0]
    limiter = RateLimiter(1.0, 3, 10.0, 4, clock=lambda: now[0])
    for _ in range(3):
        limiter.check("alice", "acme")
    with pytest.raises(RateLimitedError, match="user") as err:
        limiter.check("alice", "acme")
    assert err.value.retry_after >= 1
    limiter.check("bob", "acme")  # bob has his own bucket; the tenant had 4 (3 used)
    with pytest.raises(RateLimitedError, match="tenant"):
        limiter.check("carol", "acme")
    now[0] += 1.0
    limiter.check("alice", "acme")
    RateLimiter(0, 1, 0, 1).check("x", "y")  # 0 = unlimited


def test_passwords():
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "wrong")
    assert not verify_password(None, "anything")
    assert not verify_password("garbage", "x")


def test_audit_lines_redact_secrets(tmp_path, caplog):
    log = AuditLog(tmp_path / "audit.log")
    with caplog.at_level(logging.INFO, logger="codeweaver.audit"):
        log.emit("auth.login.failure", user="alice", reason="bad cwk_abc_def", outcome="failure")
    line = json.loads((tmp_path / "audit.log").read_text().strip())
    assert line["event"] == "auth.login.failure" and line["reason"] == "[redacted]"
    assert set(line) >= {"timestamp", "event", "user", "tenant_id", "request_id", "route",
                         "outcome", "reason"}  # fmt: skip
    assert "cwk_abc" not in caplog.text and '"auth.login.failure"' in caplog.text


def test_auth_mode_by_bind_address():
    s = Settings()
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")
    assert effective_mode(s, "127.0.0.1") == "none"
    assert effective_mode(s, "0.0.0.0") == "jwt"
    with pytest.raises(ConfigError, match="only allowed on a loopback"):
        effective_mode(Settings(auth={"mode": "none"}), "0.0.0.0")
    assert effective_mode(Settings(auth={"mode": "jwt"}), "127.0.0.1") == "jwt"
