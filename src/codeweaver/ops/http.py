"""A small blocking HTTP(S) GET for the operator tools (stdlib only, no retries)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeweaver.errors import CodeWeaverError, InputError

__all__ = ["Response", "get", "tls_context", "validate_url"]

DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise CodeWeaverError(f"expected JSON, got: {self.body[:80]!r}") from exc

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def validate_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"invalid URL {url!r}: expected http://HOST[:PORT] or https://…")
    return url.rstrip("/")


def tls_context(ca_file: Path | None = None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"cannot load CA file {ca_file}: {exc}") from exc


def get(
    url: str,
    *,
    token: str | None = None,
    ca_file: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Response:
    """GET ``url``; any HTTP status is a Response, transport failures raise CodeWeaverError."""
    headers = {"Accept": "application/json, text/plain;q=0.9"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, headers=headers)
    context = tls_context(ca_file) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return Response(resp.status, resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Response(exc.code, exc.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CodeWeaverError(f"cannot reach {url}: {reason}") from exc
