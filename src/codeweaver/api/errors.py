"""The one place where the HTTP API maps errors to statuses and the JSON error shape.

Every error body is ``{"error": {"code", "message", "request_id"}}``; no traceback
ever reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from codeweaver.api.access import audit_denied
from codeweaver.errors import (
    AuthenticationError,
    BackupError,
    CodeWeaverError,
    ConfigError,
    EmbeddingError,
    IndexingError,
    InputError,
    NotFoundError,
    OutOfScopeError,
    PathError,
    PermissionDeniedError,
    RateLimitedError,
    StoreError,
    UnavailableError,
)

__all__ = [
    "REQUEST_ID_HEADER",
    "STATUSES",
    "error_response",
    "headers_for",
    "install_error_handlers",
    "status_for",
]

REQUEST_ID_HEADER = "X-Request-ID"
log = logging.getLogger("codeweaver.api")

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "invalid_input",
    500: "internal_error",
    503: "unavailable",
}


# The one table: the first row whose class the error is an instance of answers it.
# Every edge of the HTTP API (the route handlers and the middleware below them) uses it.
STATUSES: tuple[tuple[type[CodeWeaverError], int, str], ...] = (
    (AuthenticationError, 401, "unauthorized"),
    (PermissionDeniedError, 403, "forbidden"),
    (RateLimitedError, 429, "rate_limited"),
    (NotFoundError, 404, "not_found"),
    (InputError, 422, "invalid_input"),
    (IndexingError, 409, "indexing_failed"),
    (UnavailableError, 503, "unavailable"),
    (StoreError, 503, "unavailable"),
    (EmbeddingError, 503, "unavailable"),
    (BackupError, 503, "unavailable"),
    (ConfigError, 500, "config_error"),
)
AUTH_CHALLENGE = 'Bearer realm="codeweaver"'


def status_for(exc: CodeWeaverError) -> tuple[int, str]:
    """The HTTP status and error code of ``exc`` (500 ``internal_error`` if no row fits)."""
    for cls, status, code in STATUSES:
        if isinstance(exc, cls):
            return status, code
    return 500, "internal_error"


def headers_for(exc: CodeWeaverError) -> dict[str, str]:
    """The headers an answer to ``exc`` carries (the auth challenge, when to retry)."""
    if isinstance(exc, AuthenticationError):
        return {"WWW-Authenticate": AUTH_CHALLENGE}
    if isinstance(exc, RateLimitedError):
        return {"Retry-After": str(int(exc.retry_after))}
    return {}


def request_id_of(request: Request | None, scope: dict[str, Any] | None = None) -> str:
    state = (request.scope if request is not None else scope or {}).get("state") or {}
    return str(state.get("request_id", ""))


def error_response(status: int, code: str, message: str, request_id: str) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "request_id": request_id}}
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _on_codeweaver(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CodeWeaverError)
    status, code = status_for(exc)
    request.state.error_type = type(exc).__name__
    if status >= 500:
        log.error("request failed: %s", exc)
    if isinstance(exc, OutOfScopeError):  # answered as not found, audited as a denial
        audit_denied(request, f"404 {exc.reason}")
    elif isinstance(exc, PathError):
        audit_denied(request, f"{status} path refused")
    elif isinstance(exc, PermissionDeniedError | RateLimitedError):  # raised past the middleware
        audit_denied(request, f"{status} {exc.message}")
    response = error_response(status, code, exc.message, request_id_of(request))
    response.headers.update(headers_for(exc))
    return response


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid_input", _validation_message(exc), request_id_of(request))


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = str(exc.detail) if exc.detail else code.replace("_", " ")
    response = error_response(exc.status_code, code, message, request_id_of(request))
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


def internal_error(request_id: str) -> JSONResponse:
    """The 500 body: the shape only, never the exception text or a traceback."""
    return error_response(500, "internal_error", "internal server error", request_id)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CodeWeaverError, _on_codeweaver)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
