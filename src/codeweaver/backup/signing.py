"""Authenticated backups: an HMAC-SHA256 over the manifest, keyed outside every backup.

The manifest lists the archive's and every file's SHA-256, so its signature covers the
whole backup: whoever can write to the destination but does not hold the key can
neither forge a backup nor change one and re-compute its checksums.

The key is ``backup.signing_key_file``, by default ``<home>/auth/backup.key``: a file of
32 random bytes (hex), created 0600 by the first backup, in the private ``auth/``
folder beside ``jwt.secret`` that no backup component reads, so it never travels with
the backups it authenticates. To restore on a new machine, bring the key file (kept
apart from the backups, like any secret) or point the setting at a copy of it.

Verify and restore refuse a backup that is unsigned (made before signing existed),
signed with another key, or tampered with, unless the operator explicitly accepts it
(``allow_unsigned``), which each edge audits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeweaver.backup.paths import private_dir
from codeweaver.config import Settings
from codeweaver.errors import ConfigError

__all__ = [
    "ALGORITHM",
    "SIGNATURE_FIELD",
    "Trust",
    "key_id",
    "load_key",
    "sign_manifest",
    "signing_key_path",
]

ALGORITHM = "HMAC-SHA256"
SIGNATURE_FIELD = "signature"
MIN_KEY_BYTES = 32
_OVERRIDE = "pass --allow-unsigned (HTTP: allow_unsigned) only if you trust where it came from"


def signing_key_path(settings: Settings) -> Path:
    configured = settings.backup.signing_key_file
    return configured.expanduser() if configured else settings.home / "auth" / "backup.key"


def _create_key(path: Path) -> None:
    private_dir(path.parent)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # never replaces a key another process made meanwhile
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def load_key(settings: Settings, *, create: bool = False) -> bytes | None:
    """The signing key; ``None`` when there is none (``create``: make the default one)."""
    path = signing_key_path(settings)
    if create and settings.backup.signing_key_file is None and not path.exists():
        _create_key(path)
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        if create:
            raise ConfigError(
                f"invalid setting 'backup.signing_key_file' (CODEWEAVER_BACKUP__SIGNING_KEY_FILE): "
                f"{path} does not exist"
            ) from None
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read the backup signing key {path}: {exc.strerror}") from exc
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the backup signing key {path} is too short (at least {MIN_KEY_BYTES} bytes)"
        )
    return key


def key_id(key: bytes) -> str:
    """A short public name of a key (to tell keys apart in messages, never the key)."""
    return hashlib.sha256(b"codeweaver-backup-key-id\0" + key).hexdigest()[:16]


def _canonical(data: dict[str, Any]) -> bytes:
    body = {k: v for k, v in data.items() if k != SIGNATURE_FIELD}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac(data: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, _canonical(data), hashlib.sha256).hexdigest()


def sign_manifest(data: dict[str, Any], key: bytes) -> dict[str, Any]:
    """``data`` (a manifest as JSON) with its signature added."""
    signed = {k: v for k, v in data.items() if k != SIGNATURE_FIELD}
    signed[SIGNATURE_FIELD] = {"alg": ALGORITHM, "key_id": key_id(key), "mac": _mac(data, key)}
    return signed


@dataclass(frozen=True, slots=True)
class Trust:
    """What a fetched backup must pass to be believed: its signature under ``key``
    (``None``: no key here) unless ``allow_unsigned``, and project names that
    ``project_name`` (the validator of names given by users) accepts."""

    key: bytes | None
    key_path: Path
    project_name: Callable[[str], str]
    allow_unsigned: bool = False

    def status(self, data: dict[str, Any]) -> tuple[str, str | None]:
        """``(state, why)``: ``valid``, or ``unsigned`` / ``invalid`` / ``unverifiable``
        with a one-line reason."""
        sig = data.get(SIGNATURE_FIELD)
        if not isinstance(sig, dict) or not sig:
            return "unsigned", "it is not signed (made before backups were signed, or altered)"
        if self.key is None:
            return "unverifiable", (
                f"there is no signing key at {self.key_path} to check its signature (bring "
                "the key of the server that made it, or set backup.signing_key_file)"
            )
        if sig.get("alg") != ALGORITHM or sig.get("key_id") != key_id(self.key):
            return "invalid", (
                f"it is signed with another key (key id {sig.get('key_id')!r}, this "
                f"server's is {key_id(self.key)!r})"
            )
        mac = sig.get("mac")
        if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(data, self.key)):
            return "invalid", "its signature does not match: the manifest was altered"
        return "valid", None

    def problem(self, backup_id: str, data: dict[str, Any]) -> tuple[str, str | None]:
        """``(state, problem)``; the problem is ``None`` when the backup may be used."""
        state, why = self.status(data)
        if why is None:
            return state, None
        if self.allow_unsigned:
            return f"{state} (accepted: allow_unsigned)", None
        return state, f"backup {backup_id} refused: {why}; {_OVERRIDE}"
