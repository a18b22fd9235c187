"""Structured logs: JSON lines (or a readable console format) with request context.

Every JSON line carries ``timestamp`` (ISO-8601 UTC), ``level``, ``logger`` and
``message``; records made while a request is served add ``request_id``, ``tenant_id``
and ``user``; the extra fields below appear when the code that logs supplies them
(``log.info("search", extra={"query_type": ...})``). The log-analysis tooling reads
exactly these names.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "ANONYMOUS",
    "CONTEXT_FIELDS",
    "EXTRA_FIELDS",
    "NO_TENANT",
    "ConsoleFormatter",
    "ContextFilter",
    "JsonFormatter",
    "bind_request",
    "configure_logging",
    "log_component_error",
    "reset_request",
]

CONTEXT_FIELDS = ("request_id", "tenant_id", "user")
EXTRA_FIELDS = (
    "method",
    "route",
    "status",
    "duration_ms",
    "component",
    "error_type",
    "query_type",
    "result_count",
    "project",
    "event",
)
NO_TENANT = "-"  # the tenant_id of a request whose caller is not (yet) known
ANONYMOUS = "anonymous"  # its user
_BASE_KEYS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

# The per-request state mapping (a request's ``scope["state"]``): later middleware
# (authentication) writes ``tenant_id`` / ``user`` into it and log lines see them.
_request_state: ContextVar[Mapping[str, Any] | None] = ContextVar(
    "codeweaver_request_state", default=None
)


def bind_request(state: MutableMapping[str, Any]) -> object:
    """Make ``state`` the current request's context; returns a token for ``reset_request``."""
    return _request_state.set(state)


def reset_request(token: object) -> None:
    _request_state.reset(token)  # type: ignore[arg-type]


class ContextFilter(logging.Filter):
    """Copies the current request's id, tenant and user onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        state = _request_state.get()
        if state is not None:
            if not hasattr(record, "request_id"):
                record.request_id = state.get("request_id")
            if not hasattr(record, "tenant_id"):
                record.tenant_id = state.get("tenant_id", NO_TENANT)
            if not hasattr(record, "user"):
                record.user = state.get("user", ANONYMOUS)
        return True


def _timestamp(record: logging.LogRecord) -> str:
    when = datetime.fromtimestamp(record.created, tz=UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; unknown ``extra`` keys are kept as well."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _BASE_KEYS and not key.startswith("_") and value is not None:
                out[key] = value
        if record.exc_info and "error_type" not in out and record.exc_info[0] is not None:
            out["error_type"] = record.exc_info[0].__name__
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL logger: message key=value …`` for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, tz=UTC).strftime("%H:%M:%S")
        fields = [
            f"{key}={getattr(record, key)}"
            for key in (*CONTEXT_FIELDS, *EXTRA_FIELDS)
            if getattr(record, key, None) is not None
        ]
        text = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            text += "  " + " ".join(fields)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(
    level: str = "warning",
    fmt: Literal["json", "console"] = "json",
    file: Path | None = None,
) -> logging.Handler:
    """Route every log record (CodeWeaver's, uvicorn's, libraries') to one handler.

    Writes to ``file`` when given, else to stderr. Replaces the root logger's handlers.
    """
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler


def log_component_error(
    logger: logging.Logger, component: str, exc: BaseException, message: str
) -> None:
    """Log a failure of a store, cache or provider at ERROR with its component."""
    logger.error(
        message,
        extra={"component": component, "error_type": type(exc).__name__, "event": "error"},
    )
