"""ASGI middleware: request ids, the body size limit, and the last-resort 500."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codeweaver.api.errors import REQUEST_ID_HEADER, error_response, internal_error

__all__ = ["MAX_BODY_BYTES", "RequestContextMiddleware", "header"]

MAX_BODY_BYTES = 1024 * 1024
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
log = logging.getLogger("codeweaver.api")


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of request header ``name`` (lowercase bytes), or None."""
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _client_request_id(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == REQUEST_ID_HEADER.lower().encode():
            text = value.decode("latin-1").strip()
            return text if _SAFE_ID.match(text) else None
    return None


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


class RequestContextMiddleware:
    """Tag every response with ``X-Request-ID``, cap bodies at 1 MiB, never leak a 500."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _client_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != REQUEST_ID_HEADER.lower().encode()
                ]
                headers.append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        length = _content_length(scope)
        if length is not None and length < 0:
            await self._reply(
                scope, receive, send_with_id, 400, "bad_request", "bad Content-Length"
            )
            return
        if length is not None and length > self.max_body:
            await self._too_large(scope, receive, send_with_id)
            return
        body = await self._read_body(receive)
        if body is None:
            await self._too_large(scope, receive, send_with_id)
            return
        try:
            await self.app(scope, _replay(body, receive), send_with_id)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await internal_error(request_id)(scope, receive, send_with_id)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole request body, or None once it exceeds the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body is larger than {self.max_body} bytes"
        await self._reply(scope, receive, send, 413, "payload_too_large", message)

    @staticmethod
    async def _reply(
        scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str
    ) -> None:
        request_id = str(scope["state"]["request_id"])
        response = error_response(status, code, message, request_id)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            message: dict[str, Any] = {"type": "http.request", "body": body, "more_body": False}
            return message
        return await receive()

    return replay
