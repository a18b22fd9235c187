"""The audit log: one JSON object per line on logger ``codeweaver.audit`` and in a file.

Events: ``auth.login.success``, ``auth.login.failure``, ``auth.token.refresh``,
``auth.refresh.reuse``, ``auth.logout``, ``authz.denied``, ``data.access`` and
``admin.<action>``. Fields: timestamp, event, user, tenant_id, request_id, route,
outcome, reason (plus event-specific ones such as project). Callers never pass
secrets; as a second guard, any value that looks like a token or key is redacted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["AUDIT_LOGGER", "AuditLog"]

AUDIT_LOGGER = "codeweaver.audit"
_SECRETISH = re.compile(r"(cwk_|cwr_|eyJ[A-Za-z0-9_-]{8,}|\$argon2)")


def _clean(value: Any) -> Any:
    if isinstance(value, str) and _SECRETISH.search(value):
        return "[redacted]"
    return value


class AuditLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._log = logging.getLogger(AUDIT_LOGGER)
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # the data home, private

    def emit(
        self,
        event: str,
        *,
        user: str | None,
        tenant_id: str | None = None,
        request_id: str | None = None,
        route: str | None = None,
        outcome: str = "success",
        reason: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event,
            "user": user,
            "tenant_id": tenant_id,
            "request_id": request_id,
            "route": route,
            "outcome": outcome,
            "reason": reason,
        }
        record.update(extra)
        record = {k: _clean(v) for k, v in record.items()}
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
        self._log.info(line)
        if self.path is not None:
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, (line + "\n").encode())
                finally:
                    os.close(fd)
        return record
