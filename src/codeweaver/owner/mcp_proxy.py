"""``codeweaver mcp``: a stdio MCP server that is a client of the data directory's owner.

Messages from the editor (stdin) go to the owner's streamable-HTTP MCP endpoint over
its Unix socket, answers and notifications come back on stdout, so any number of
editors and agents share one owner and see the same projects; each runs as the local
user. An owner is started when none runs. A held-open presence stream keeps a
background owner from idling out and tells the proxy at once when the owner is gone:
the proxy then answers the requests in flight with an error, starts a new owner,
replays the session's ``initialize`` and carries on.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp.client.streamable_http import streamable_http_client
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import (
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
)

from codeweaver import __version__
from codeweaver.owner.launch import ensure_owner
from codeweaver.owner.locate import OwnerPaths
from codeweaver.owner.wire import VERSION_HEADER

__all__ = ["run_proxy"]

log = logging.getLogger("codeweaver.mcp")
OWNER_STOPPED = -32001
Stream = Any  # the SDK's memory object streams (their types differ per transport)


class _Proxy:
    def __init__(self, home: Path, config: Path | None, timeout: float) -> None:
        self.home, self.config, self.timeout = home, config, timeout
        self.socket = str(OwnerPaths(home).socket)
        self.initialize: SessionMessage | None = None
        self.pending: set[Any] = set()  # request ids sent to the owner, not yet answered
        self.closed = False  # the editor closed stdin

    def _http(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=httpx2.AsyncHTTPTransport(uds=self.socket),
            base_url="http://localhost",
            headers={VERSION_HEADER: __version__},
            timeout=httpx2.Timeout(30.0, read=None),
        )

    async def run(self) -> None:
        async with stdio_server() as (down_read, down_write):
            send_up, recv_up = anyio.create_memory_object_stream[SessionMessage](100)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._from_editor, down_read, send_up)
                while not self.closed:
                    await anyio.to_thread.run_sync(self._ensure_owner)
                    try:
                        await self._session(recv_up, down_write)
                    except Exception as exc:  # the owner went away mid-call
                        log.info("owner session ended: %s", exc)
                    await self._fail_pending(down_write)
                tg.cancel_scope.cancel()

    def _ensure_owner(self) -> None:
        ensure_owner(self.home, self.config, self.timeout).close()

    async def _from_editor(self, down_read: Stream, send_up: Stream) -> None:
        async with send_up:
            async for item in down_read:
                if not isinstance(item, SessionMessage):
                    continue  # a line that is not JSON-RPC: the SDK already logged it
                message = item.message
                if isinstance(message, JSONRPCRequest) and message.method == "initialize":
                    self.initialize = item
                await send_up.send(item)
        self.closed = True

    async def _session(self, recv_up: Stream, down_write: Stream) -> None:
        async with (
            self._http() as http,
            anyio.create_task_group() as tg,
            streamable_http_client("http://localhost/mcp/", http_client=http) as up,
        ):
            if self.initialize is not None and not self.pending:
                await self._replay(up)
            tg.start_soon(self._to_owner, recv_up, up[1], tg)
            tg.start_soon(self._to_editor, up[0], down_write)
            await self._presence(http)  # returns when the owner is gone
            tg.cancel_scope.cancel()

    async def _replay(self, up: tuple[Stream, Stream]) -> None:
        """A new owner: re-open the session the editor opened with the old one."""
        assert self.initialize is not None
        await up[1].send(self.initialize)
        async for item in up[0]:
            if isinstance(item, SessionMessage) and not isinstance(
                item.message, JSONRPCNotification
            ):
                break
        note = JSONRPCNotification(jsonrpc="2.0", method="notifications/initialized")
        await up[1].send(SessionMessage(note))

    async def _to_owner(
        self,
        recv_up: Stream,
        up_write: Stream,
        tg: Any,
    ) -> None:
        async for item in recv_up:
            if isinstance(item.message, JSONRPCRequest):
                self.pending.add(item.message.id)
            await up_write.send(item)
        tg.cancel_scope.cancel()  # the editor is gone

    async def _to_editor(self, up_read: Stream, down_write: Stream) -> None:
        async for item in up_read:
            if not isinstance(item, SessionMessage):
                log.debug("owner transport: %s", item)
                continue
            self.pending.discard(getattr(item.message, "id", None))
            await down_write.send(item)

    async def _presence(self, http: httpx2.AsyncClient) -> None:
        try:
            async with http.stream("GET", "/owner/v1/presence") as resp:
                async for _line in resp.aiter_lines():
                    pass
        except httpx2.HTTPError as exc:
            log.debug("owner presence stream ended: %s", exc)

    async def _fail_pending(self, down_write: Stream) -> None:
        message = "the CodeWeaver owner stopped while answering; it is being restarted, retry"
        for request_id in sorted(self.pending, key=str):
            error = JSONRPCError(
                jsonrpc="2.0", id=request_id, error=ErrorData(code=OWNER_STOPPED, message=message)
            )
            await down_write.send(SessionMessage(error))
        self.pending.clear()


def run_proxy(home: Path, config: Path | None, timeout: float) -> None:
    """Bridge stdin/stdout to ``home``'s owner until the editor closes stdin."""
    anyio.run(_Proxy(home, config, timeout).run)
