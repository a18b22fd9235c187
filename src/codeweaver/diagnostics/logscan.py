"""Streamed analysis of CodeWeaver logs: JSON lines (the server's format) and plain text.

One pass, one line at a time; the state is a fixed set of counters, so memory stays flat
however large the input. Counts that two kinds of lines can report for the same event
(a slow request's access line and its "slow request" warning; an audit failure and its
401) take the larger of the two, so nothing is counted twice.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from codeweaver.config import OperationsSettings

__all__ = ["Access", "LogStats", "analyze", "recommendations"]

MAX_KEYS = 200  # distinct error types kept; the rest count as "(other)"
MAX_SAMPLES = 5
_LEVEL = re.compile(rb"\b(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\b")
_STAMP = re.compile(rb"^\[?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)")
_TEXT_ACCESS = re.compile(rb'"[A-Z]+ \S+ HTTP/[0-9.]+" ([1-5][0-9][0-9])\b')
_ERROR_NAME = re.compile(r"\b([A-Z][A-Za-z]*(?:Error|Exception))\b")
_LEVELS = {"WARN": "WARNING", "FATAL": "CRITICAL"}
_AUTH_FAIL_TEXT = re.compile(
    r"auth\.login\.failure|authentication failed|invalid token|token rejected", re.I
)
_STORE_TEXT = re.compile(r"vector[ _]store|qdrant|StoreError", re.I)
_MEMORY_TEXT = re.compile(r"\bmemory\b", re.I)


@dataclass
class Access:
    """Responses seen in access lines of one kind (JSON records or plain-text lines)."""

    requests: int = 0
    client_errors: int = 0
    server_errors: int = 0
    unauthorized: int = 0
    slow: int = 0

    def add(self, status: Any) -> None:
        self.requests += 1
        if isinstance(status, int):
            if status >= 500:
                self.server_errors += 1
            elif status >= 400:
                self.client_errors += 1
                if status == 401:
                    self.unauthorized += 1


@dataclass
class LogStats:
    lines: int = 0
    json_lines: int = 0
    text_lines: int = 0
    unparsed_lines: int = 0
    outside_window: int = 0
    levels: Counter[str] = field(default_factory=Counter)
    errors_by_type: Counter[str] = field(default_factory=Counter)
    critical: int = 0
    critical_samples: list[str] = field(default_factory=list)
    json_access: Access = field(default_factory=Access)
    text_access: Access = field(default_factory=Access)
    slow_request_warnings: int = 0
    memory_warnings: int = 0
    searches: int = 0
    failed_searches: int = 0
    slow_search_lines: int = 0
    slow_search_warnings: int = 0
    audit_auth_failures: int = 0
    authz_denied: int = 0
    store_errors: int = 0
    first_timestamp: str | None = None
    last_timestamp: str | None = None

    @property
    def records(self) -> int:
        return self.json_lines + self.text_lines

    @property
    def errors(self) -> int:
        return self.levels["ERROR"] + self.levels["CRITICAL"]

    @property
    def access(self) -> Access:
        """The JSON access records when there are any (a plain-text access log written
        alongside would describe the same requests), else the plain-text access lines."""
        return self.json_access if self.json_access.requests else self.text_access

    @property
    def requests(self) -> int:
        return self.access.requests

    @property
    def server_errors(self) -> int:
        return self.access.server_errors

    @property
    def slow_requests(self) -> int:
        return max(self.access.slow, self.slow_request_warnings)

    @property
    def slow_searches(self) -> int:
        return max(self.slow_search_lines, self.slow_search_warnings)

    @property
    def auth_failures(self) -> int:
        return max(self.audit_auth_failures, self.access.unauthorized)

    def error_rate(self) -> tuple[float | None, str]:
        if self.requests:
            return self.server_errors / self.requests, "5xx responses / requests"
        if self.records:
            return self.errors / self.records, "error lines / log lines"
        return None, "no records"

    def as_dict(self, limits: OperationsSettings) -> dict[str, Any]:
        rate, basis = self.error_rate()
        return {
            "lines": self.lines,
            "json_lines": self.json_lines,
            "text_lines": self.text_lines,
            "unparsed_lines": self.unparsed_lines,
            "outside_window": self.outside_window,
            "first_timestamp": self.first_timestamp,
            "last_timestamp": self.last_timestamp,
            "levels": dict(self.levels),
            "errors": self.errors,
            "errors_by_type": dict(self.errors_by_type.most_common()),
            "critical_errors": self.critical,
            "critical_samples": self.critical_samples,
            "requests": self.requests,
            "client_errors": self.access.client_errors,
            "server_errors": self.server_errors,
            "error_rate": rate,
            "error_rate_basis": basis,
            "slow_requests": self.slow_requests,
            "memory_warnings": self.memory_warnings,
            "searches": self.searches,
            "failed_searches": self.failed_searches,
            "slow_searches": self.slow_searches,
            "auth_failures": self.auth_failures,
            "authz_denied": self.authz_denied,
            "store_errors": self.store_errors,
            "recommendations": recommendations(self, limits),
        }


def _count_key(counter: Counter[str], key: str) -> None:
    if key in counter or len(counter) < MAX_KEYS:
        counter[key] += 1
    else:
        counter["(other)"] += 1


def _audit_event(rec: dict[str, Any], logger: str, message: str) -> str:
    """The audit event of a record: the server log carries the audit record as a JSON
    string in ``message`` (logger ``codeweaver.audit``); ``audit.log`` holds the records
    themselves (``event`` and ``outcome``, no logger)."""
    if logger == "codeweaver.audit":
        inner: Any = rec
        if message.startswith("{"):
            try:
                inner = json.loads(message)
            except ValueError:
                inner = rec
        return str(inner.get("event", "")) if isinstance(inner, dict) else ""
    if not logger and "outcome" in rec:
        return str(rec.get("event", ""))
    return ""


class _Scanner:
    def __init__(self, limits: OperationsSettings, since: datetime | None) -> None:
        self.s = LogStats()
        self.slow_request_ms = limits.slow_request_ms
        self.slow_search_ms = limits.slow_search_ms
        self.since = since

    def line(self, raw: bytes) -> None:
        s = self.s
        s.lines += 1
        raw = raw.strip()
        if not raw:
            return
        if raw[:1] == b"{":
            try:
                rec = json.loads(raw)
            except ValueError:
                rec = None
            if isinstance(rec, dict):
                if self._in_window(rec.get("timestamp")):
                    s.json_lines += 1
                    self.record(rec)
                return
        self.text(raw)

    def _in_window(self, stamp: Any) -> bool:
        if not isinstance(stamp, str):
            return True
        if self.since is not None:
            try:
                when = datetime.fromisoformat(stamp)
            except ValueError:
                return True
            if when.tzinfo is None:  # plain-text stamps carry no zone: read them as UTC
                when = when.replace(tzinfo=UTC)
            if when < self.since:
                self.s.outside_window += 1
                return False
        if self.s.first_timestamp is None:
            self.s.first_timestamp = stamp
        self.s.last_timestamp = stamp
        return True

    def record(self, rec: dict[str, Any]) -> None:
        s = self.s
        level = _LEVELS.get(
            str(rec.get("level", "INFO")).upper(), str(rec.get("level", "INFO")).upper()
        )
        s.levels[level] += 1
        logger = str(rec.get("logger", ""))
        message = str(rec.get("message", ""))
        duration = rec.get("duration_ms")
        slow_line = isinstance(duration, int | float)
        if logger == "codeweaver.access" and message == "request":
            s.json_access.add(rec.get("status"))
            if slow_line and duration > self.slow_request_ms:  # type: ignore[operator]
                s.json_access.slow += 1
        elif logger == "codeweaver.search" and message == "search":
            s.searches += 1
            if slow_line and duration > self.slow_search_ms:  # type: ignore[operator]
                s.slow_search_lines += 1
        event = _audit_event(rec, logger, message)
        if event.startswith("auth.") and event.endswith(".failure"):
            s.audit_auth_failures += 1
        elif event == "authz.denied":
            s.authz_denied += 1
        if level == "WARNING" or level in ("ERROR", "CRITICAL"):
            self._notable(level, logger, message, rec)

    def _notable(self, level: str, logger: str, message: str, rec: dict[str, Any]) -> None:
        s = self.s
        lowered = message.lower()
        if lowered.startswith("slow request"):
            s.slow_request_warnings += 1
        elif lowered.startswith("slow search"):
            s.slow_search_warnings += 1
        if _MEMORY_TEXT.search(message):
            s.memory_warnings += 1
        if level == "WARNING":
            return
        error_type = rec.get("error_type")
        _count_key(s.errors_by_type, str(error_type or logger or "unknown"))
        if logger == "codeweaver.search":
            s.failed_searches += 1
        if rec.get("component") == "vector_store" or error_type == "StoreError":
            s.store_errors += 1
        if level == "CRITICAL":
            self._critical(message)

    def _critical(self, message: str) -> None:
        self.s.critical += 1
        if len(self.s.critical_samples) < MAX_SAMPLES:
            self.s.critical_samples.append(message[:300])

    def text(self, raw: bytes) -> None:
        s = self.s
        m = _LEVEL.search(raw, 0, 80)
        if m is None:
            s.unparsed_lines += 1
            return
        stamp = _STAMP.match(raw)
        if stamp is not None and not self._in_window(stamp.group(1).decode().replace(",", ".")):
            return
        s.text_lines += 1
        access = _TEXT_ACCESS.search(raw)
        if access is not None:  # uvicorn's access log: "GET /health HTTP/1.1" 200
            s.text_access.add(int(access.group(1)))
        level = m.group(1).decode()
        level = _LEVELS.get(level, level)
        s.levels[level] += 1
        message = raw[m.end() :].decode("utf-8", errors="replace").strip(" :-|")
        if level not in ("WARNING", "ERROR", "CRITICAL"):
            return
        self._text_notable(level, message)

    def _text_notable(self, level: str, message: str) -> None:
        s = self.s
        lowered = message.lower()
        if "slow request" in lowered:
            s.slow_request_warnings += 1
        if "slow search" in lowered:
            s.slow_search_warnings += 1
        if _MEMORY_TEXT.search(message):
            s.memory_warnings += 1
        if _AUTH_FAIL_TEXT.search(message):
            s.audit_auth_failures += 1
        if level == "WARNING":
            return
        name = _ERROR_NAME.search(message)
        _count_key(s.errors_by_type, name.group(1) if name else "unknown")
        if "search" in lowered:
            s.failed_searches += 1
        if _STORE_TEXT.search(message):
            s.store_errors += 1
        if level == "CRITICAL":
            self._critical(message)


def analyze(
    lines: Iterable[bytes], limits: OperationsSettings, since: datetime | None = None
) -> LogStats:
    """Count what matters in ``lines`` (bytes, one log line each); ``since`` is tz-aware."""
    scanner = _Scanner(limits, since)
    for raw in lines:
        scanner.line(raw)
    return scanner.s


def recommendations(s: LogStats, limits: OperationsSettings) -> list[str]:
    out: list[str] = []
    if s.auth_failures > limits.log_auth_failures:
        out.append(
            f"{s.auth_failures} authentication failures (over {limits.log_auth_failures}): "
            "check for brute force or expired tokens — 'codeweaver support kb show auth-failures'"
        )
    if s.store_errors > limits.log_store_errors:
        out.append(
            f"{s.store_errors} vector-store errors (over {limits.log_store_errors}): "
            "'codeweaver support kb show vector-store-connectivity'"
        )
    if s.failed_searches > limits.log_failed_searches:
        out.append(
            f"{s.failed_searches} failed searches (over {limits.log_failed_searches}): "
            "look at the errors by type above"
        )
    rate, basis = s.error_rate()
    if rate is not None and rate > limits.log_error_rate:
        out.append(
            f"error rate {rate * 100:.2f} % ({basis}) is over {limits.log_error_rate * 100:.0f} %: "
            "run 'codeweaver doctor' against the service"
        )
    if s.critical:
        out.append(f"{s.critical} critical errors: read them first")
    if s.memory_warnings:
        out.append(f"{s.memory_warnings} memory warnings: 'codeweaver support kb show high-memory'")
    if s.slow_searches:
        out.append(f"{s.slow_searches} slow searches: 'codeweaver support kb show slow-search'")
    return out
