"""The thin client of a data directory's owner: HTTP/1.1 over its Unix socket.

Standard library only (``http1``, a minimal HTTP/1.1 client), so a command answered
by the owner starts fast: it never imports the model, the store or the web stack.
``connect`` returns a client when an owner answers, None when none runs; a record of
another version is reported with what to do. Streamed answers (index progress, watch
batches) are JSON lines; closing the connection ends them (the owner stops an index
run or a watcher).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from codeweaver import __version__
from codeweaver.errors import CodeWeaverError, UnavailableError
from codeweaver.owner.http1 import Connection, ProtocolError, Response
from codeweaver.owner.locate import OwnerPaths
from codeweaver.owner.record import OwnerRecord, pid_alive, read_record
from codeweaver.owner.wire import VERSION_HEADER, raise_error

__all__ = ["OwnerClient", "OwnerGone", "connect", "version_problem"]

CONNECT_TIMEOUT = 5.0


class OwnerGone(UnavailableError):
    """The owner stopped (crashed or was stopped) while a client was talking to it."""


def version_problem(record: OwnerRecord) -> str | None:
    if record.version == __version__:
        return None
    restart = {
        "daemon": "stop it with 'codeweaver daemon stop'",
        "serve": "restart 'codeweaver serve' with this version",
        "watch": "restart 'codeweaver watch' with this version",
    }.get(record.kind, f"stop process {record.pid}")
    return (
        f"the CodeWeaver owner of {record.home} ({record.kind}, pid {record.pid}) runs "
        f"version {record.version}, this command is version {__version__}; {restart}, "
        "then run the command again"
    )


class OwnerClient:
    def __init__(self, paths: OwnerPaths, record: OwnerRecord, timeout: float | None = 600) -> None:
        self.paths = paths
        self.record = record
        self._timeout = timeout
        self._conn: Connection | None = None

    # ---------------------------------------------------------------- transport
    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = Connection(str(self.paths.socket), self._timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send(self, method: str, path: str, body: Any) -> Response:
        data = json.dumps(body).encode() if body is not None else None
        headers = {VERSION_HEADER: __version__, "Content-Type": "application/json"}
        for attempt in (0, 1):  # a kept-alive connection the owner closed: reconnect once
            conn = self._connection()
            try:
                return conn.request(method, path, data, headers)
            except OSError as exc:  # ProtocolError too
                self.close()
                if attempt or not pid_alive(self.record.pid):
                    raise self._gone(exc) from None
        raise AssertionError("unreachable")

    def _gone(self, exc: BaseException | None = None) -> OwnerGone:
        why = f" ({type(exc).__name__})" if exc is not None else ""
        return OwnerGone(
            f"the CodeWeaver owner of {self.paths.home} ({self.record.kind}, pid "
            f"{self.record.pid}) stopped while answering{why}; run the command again"
        )

    def call(self, method: str, path: str, body: Any = None) -> Any:
        resp = self._send(method, path, body)
        try:
            payload = json.loads(resp.read() or b"null")
        except (ValueError, OSError) as exc:
            self.close()
            raise self._gone(exc) from None
        if resp.status >= 400:
            raise_error(payload, resp.status)
        return payload

    def stream(self, path: str, body: Any) -> Iterator[dict[str, Any]]:
        """The JSON lines of a streamed answer; an ``error`` line is raised."""
        resp = self._send("POST", path, body)
        if resp.status >= 400:
            try:
                payload = json.loads(resp.read() or b"null")
            except (ValueError, ProtocolError):
                payload = None
            raise_error(payload, resp.status)
        try:
            while True:
                try:
                    line = resp.readline()
                except OSError as exc:
                    raise self._gone(exc) from None
                if not line:
                    raise self._gone()  # every stream ends with "done" or "error"
                item = json.loads(line)
                if "error" in item:
                    raise_error(item, 500)
                yield item
                if "done" in item:
                    return
        finally:
            self.close()  # ends the run in the owner if the caller stops early

    # ------------------------------------------------------------------ queries
    def info(self) -> dict[str, Any]:
        return dict(self.call("GET", "/owner/v1/info"))

    def get(self, path: str, **query: Any) -> Any:
        params = {k: v for k, v in query.items() if v is not None}
        return self.call("GET", path + (f"?{urlencode(params)}" if params else ""))

    def remove_project(self, name: str) -> None:
        self.call("DELETE", f"/owner/v1/projects/{quote(name, safe='')}")


def _answers(paths: OwnerPaths) -> bool:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT)
    try:
        sock.connect(str(paths.socket))
    except OSError:
        return False
    finally:
        sock.close()
    return True


def connect(home: Path, *, check_version: bool = True) -> OwnerClient | None:
    """A client of ``home``'s owner, or None when no owner answers there."""
    paths = OwnerPaths(home)
    record = read_record(paths)
    if record is None or not pid_alive(record.pid) or not _answers(paths):
        return None
    if check_version and (problem := version_problem(record)) is not None:
        raise CodeWeaverError(problem)
    return OwnerClient(paths, record)
