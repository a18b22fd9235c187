"""One owner process per data directory.

The embedded Qdrant Edge shard can be opened by one process only, so exactly one
process, the *owner* (``serve``, ``watch`` or a background ``daemon``), holds every
store of a data directory; every other CodeWeaver process is a client of it, over a
Unix socket inside the data directory that only the owning OS user can reach.

* ``locate``: where the socket, the owner record and the lock live (stdlib only).
* ``record``: the owner record (pid, socket, version, kind) and the owner lock.
* ``client``: the thin client the CLI and the stdio MCP proxy use (stdlib only).
* ``wire``: how errors cross the socket.
* ``peer``: the peer-credential check on every connection.
* ``service``: the owner's local API (an ASGI app) over one Engine.
* ``host``: running an owner (daemon, watch, or beside ``serve``'s TCP listener).
* ``launch``: starting a background owner on demand.
* ``mcp_proxy``: ``codeweaver mcp`` as a stdio bridge to the owner's MCP endpoint.

Nothing here is imported by ``codeweaver`` itself; modules import their heavy
dependencies lazily so a client never loads the model, the store or the web stack.
"""
