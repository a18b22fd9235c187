"""A minimal HTTP/1.1 client over a Unix socket, for the owner's own API only.

``http.client`` would do, but it imports the ``email`` parser and ``ssl``, which
cost a client more than the whole search it asks the owner for. The owner is
uvicorn: answers carry ``Content-Length`` or are chunked; nothing else is needed.
"""

from __future__ import annotations

import socket

__all__ = ["Connection", "ProtocolError", "Response"]

_MAX_LINE = 65536


class ProtocolError(OSError):
    """The owner's answer was cut off or is not HTTP."""


class Response:
    def __init__(self, sock: socket.socket, buf: bytearray) -> None:
        self._sock, self._buf = sock, buf
        self.status, self.headers = self._head()
        self._chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self._left = int(self.headers.get("content-length", "0")) if not self._chunked else 0
        self._done = not self._chunked and self._left == 0
        self._lines = bytearray()

    def _fill(self) -> None:
        data = self._sock.recv(65536)
        if not data:
            raise ProtocolError("the owner closed the connection")
        self._buf += data

    def _line(self) -> bytes:
        while (end := self._buf.find(b"\r\n")) < 0:
            if len(self._buf) > _MAX_LINE:
                raise ProtocolError("header line too long")
            self._fill()
        line = bytes(self._buf[:end])
        del self._buf[: end + 2]
        return line

    def _head(self) -> tuple[int, dict[str, str]]:
        parts = self._line().split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError("not an HTTP answer")
        headers: dict[str, str] = {}
        while line := self._line():
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    def _take(self, n: int) -> bytes:
        while len(self._buf) < n:
            self._fill()
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def _next_piece(self) -> bytes:
        """The next part of the body; b"" once it is complete."""
        if self._done:
            return b""
        if not self._chunked:
            data = self._take(self._left)
            self._done = True
            return data
        size = int(self._line().split(b";")[0], 16)
        if size == 0:
            while self._line():  # trailers, then the empty line
                pass
            self._done = True
            return b""
        data = self._take(size)
        self._take(2)
        return data

    def read(self) -> bytes:
        out = bytearray(self._lines)
        self._lines.clear()
        while piece := self._next_piece():
            out += piece
        return bytes(out)

    def readline(self) -> bytes:
        """One line of the body (with its newline), b"" at the end."""
        while (end := self._lines.find(b"\n")) < 0:
            piece = self._next_piece()
            if not piece:
                rest = bytes(self._lines)
                self._lines.clear()
                return rest
            self._lines += piece
        line = bytes(self._lines[: end + 1])
        del self._lines[: end + 1]
        return line


class Connection:
    """One kept-alive connection to ``path``; ``request`` sends, the answer is read."""

    def __init__(self, path: str, timeout: float | None) -> None:
        self._path, self._timeout = path, timeout
        self._sock: socket.socket | None = None

    def request(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> Response:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self._timeout)
            try:
                sock.connect(self._path)
            except OSError:
                sock.close()
                raise
            self._sock = sock
        lines = [f"{method} {target} HTTP/1.1", "Host: localhost"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body or b'')}")
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        return Response(self._sock, bytearray())

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
