"""A small blocking HTTP(S) GET for the operator tools (stdlib only, no retries).

Redirects are followed to http(s) URLs only, and the bearer token goes only to the
origin (scheme, host, port) it was given for: a redirect to another origin is
followed without it."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeweaver.errors import CodeWeaverError, InputError, UnavailableError

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


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


class _SameOriginAuth(urllib.request.HTTPRedirectHandler):
    """Carries ``Authorization`` across a redirect only within its origin."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(
                newurl, code, f"redirect to a non-HTTP URL refused: {newurl}", headers, fp
            )
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        auth = req.unredirected_hdrs.get("Authorization")
        if new is not None and auth and _origin(new.full_url) == _origin(req.full_url):
            new.add_unredirected_header("Authorization", auth)
        return new


def _opener(url: str, ca_file: Path | None) -> urllib.request.OpenerDirector:
    handlers: list[urllib.request.BaseHandler] = [_SameOriginAuth()]
    if url.startswith("https:"):
        handlers.append(urllib.request.HTTPSHandler(context=tls_context(ca_file)))
    return urllib.request.build_opener(*handlers)


def get(
    url: str,
    *,
    token: str | None = None,
    ca_file: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Response:
    """GET ``url``; any HTTP status is a Response, transport failures raise UnavailableError."""
    req = urllib.request.Request(url, headers={"Accept": "application/json, text/plain;q=0.9"})
    if token:  # unredirected: _SameOriginAuth decides whether a redirect carries it
        req.add_unredirected_header("Authorization", f"Bearer {token}")
    opener = _opener(url, ca_file)
    try:
        with opener.open(req, timeout=timeout) as resp:
            return Response(resp.status, resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Response(exc.code, exc.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UnavailableError(f"cannot reach {url}: {reason}") from exc
