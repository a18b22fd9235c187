"""Who may talk to the owner: only processes of the OS user that owns it.

The socket is 0600 inside a 0700 folder, so the file system already keeps other
users out; on top of that every accepted connection's peer credentials
(``SO_PEERCRED``) are read and a connection from any other uid is closed before a
byte of it is parsed. ``Presence`` counts the connections a background owner's idle
timer looks at.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Presence", "peer_checked_protocol", "peer_credentials"]

_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def peer_credentials(sock: Any) -> tuple[int, int] | None:
    """``(pid, uid)`` of a Unix socket's peer, None when the kernel does not say."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
    except (OSError, AttributeError):
        return None
    pid, uid, _gid = _CRED.unpack(raw)
    return pid, uid


class Presence:
    """Open connections of an owner, and when the last one closed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.connections = 0
        self.refused = 0
        self.idle_since = time.monotonic()

    def opened(self) -> None:
        with self._lock:
            self.connections += 1

    def closed(self) -> None:
        with self._lock:
            self.connections -= 1
            if self.connections == 0:
                self.idle_since = time.monotonic()

    def idle_for(self) -> float:
        with self._lock:
            return 0.0 if self.connections else time.monotonic() - self.idle_since


def peer_checked_protocol(
    presence: Presence, on_refused: Callable[[int | None, int | None], None]
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol, refusing peers that are not this process's user."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    owner_uid = os.getuid()

    class PeerChecked(H11Protocol):
        _refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            creds = peer_credentials(transport.get_extra_info("socket"))
            if creds is None or creds[1] != owner_uid:
                self._refused = True
                presence.refused += 1
                transport.abort()
                on_refused(*(creds or (None, None)))
                return
            presence.opened()
            super().connection_made(transport)

        def data_received(self, data: bytes) -> None:
            if not self._refused:
                super().data_received(data)

        def eof_received(self) -> None:
            if not self._refused:
                super().eof_received()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._refused:
                return
            presence.closed()
            super().connection_lost(exc)

    return PeerChecked
