"""The page and its assets (package data under ``static/``), with the page's own
Content-Security-Policy: scripts, styles and fetches from this origin only, nothing
inline, nothing from anywhere else."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Annotated

from fastapi import Path as PathParam
from fastapi import Request
from fastapi.responses import Response

from codeweaver.errors import NotFoundError

__all__ = ["ASSETS", "PAGE_CSP", "asset", "index_page"]

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
ASSETS = (
    "app.js",
    "api.js",
    "dom.js",
    "file.js",
    "ops.js",
    "projects.js",
    "runbooks.js",
    "search.js",
    "style.css",
    "icon.svg",
)


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    media_type: str
    etag: str


@lru_cache(maxsize=len(ASSETS) + 1)
def _load(name: str) -> _Asset:
    body = resources.files("codeweaver.api.web").joinpath("static", name).read_bytes()
    suffix = name[name.rfind(".") :]
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return _Asset(body, _TYPES[suffix], etag)


def _serve(request: Request, name: str) -> Response:
    item = _load(name)
    headers = {
        "Content-Security-Policy": PAGE_CSP,
        "Cache-Control": "no-cache",
        "ETag": item.etag,
    }
    if request.headers.get("if-none-match") == item.etag:
        return Response(status_code=304, headers=headers)
    return Response(item.body, media_type=item.media_type, headers=headers)


def index_page(request: Request) -> Response:
    return _serve(request, "index.html")


def asset(request: Request, name: Annotated[str, PathParam(max_length=64)]) -> Response:
    if name not in ASSETS:
        raise NotFoundError(f"no asset {name!r}")
    return _serve(request, name)
