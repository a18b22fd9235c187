"""The ``settings`` component: the settings as JSON with every credential taken out.

Redaction goes by type and by shape, not by a list of known fields, so a setting added
later is covered too: every ``SecretStr`` is masked; every string that is a URL loses
its user-info (``user:password@``) and the values of its query string and fragment (where
tokens and signatures travel); a plain string or path whose name says it is a secret
(``api_key``, ``secret``, ``password``, ``token``, ``access_key``) is masked.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

from codeweaver.config import Settings

__all__ = ["MASK", "public_settings", "redact_text", "redact_url"]

MASK = "<redacted>"
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@]+@")
_SECRET_NAMES = ("api_key", "secret", "password", "token", "access_key", "credential")


def redact_url(value: str) -> str:
    """``value`` without user-info and with every query/fragment value masked, when it is
    a URL (``scheme://host…``); other strings unchanged."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return MASK if "@" in value else value  # unparseable: keep nothing that may hide one
    if not parts.scheme or not parts.netloc:
        return value
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@" + (f"[{host}]" if host and ":" in host else host or "")
        netloc += f":{port}" if port is not None else ""
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = "&".join(f"{quote(k, safe='')}={MASK}" for k, _ in pairs)
    fragment = MASK if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def redact_text(text: str) -> str:
    """``text`` (a message, a note) with the user-info of every URL in it masked."""
    return _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)


def _secret_name(name: str) -> bool:
    return any(s in name.lower() for s in _SECRET_NAMES)


def _value(value: Any, name: str) -> Any:
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else None
    if isinstance(value, BaseModel):
        return {k: _value(getattr(value, k), k) for k in type(value).model_fields}
    if isinstance(value, dict):
        return {str(k): _value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_value(v, name) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)  # str, Path, enums: as JSON has them
    if _secret_name(name) and not name.endswith("_file") and text:
        return MASK
    return redact_url(text)


def public_settings(settings: Settings) -> dict[str, Any]:
    """The settings as JSON, every credential removed."""
    data: dict[str, Any] = _value(settings, "")
    return data
