"""A small, light HTTP/1.1 load generator for the HTTP benchmarks (asyncio, keep-alive).

Two modes over ``clients`` persistent connections:

- closed loop (``rate=None``): each connection sends its next request as soon as the
  previous answer arrives — measures the saturation throughput;
- open loop (``rate`` requests/s in total, split evenly): each connection sends on a
  fixed schedule; latency counts from the *scheduled* send time, so a slow answer that
  delays later requests is charged to them too (no coordinated omission).

The client costs a few tens of microseconds per request, so on a 2-core machine most
of the CPU stays with the server.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from dataclasses import dataclass, field

__all__ = ["LoadResult", "run_load"]


@dataclass
class LoadResult:
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, round(q / 100 * (len(data) - 1)))]

    def summary(self) -> str:
        p50 = statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")
        return (
            f"{self.rps:.0f} req/s, p50 {p50:.1f} ms, p95 {self.pct(95):.1f} ms, "
            f"p99 {self.pct(99):.1f} ms, errors {self.errors}"
        )


def _request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def _client(
    host: str,
    port: int,
    path: str,
    bodies: list[dict[str, object]],
    seed: int,
    stop_at: float,
    interval: float | None,
    offset: float,
    headers: dict[str, str],
    out: LoadResult,
) -> None:
    rnd = random.Random(seed)
    reader, writer = await asyncio.open_connection(host, port)
    loop = asyncio.get_running_loop()
    next_at = loop.time() + offset
    try:
        while True:
            if interval is not None:
                delay = next_at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                scheduled = next_at
                next_at += interval
            else:
                scheduled = loop.time()
            if scheduled >= stop_at:
                break
            body = json.dumps(rnd.choice(bodies)).encode()
            try:
                writer.write(_request(host, port, path, body, headers))
                await writer.drain()
                status = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                out.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            out.latencies_ms.append((loop.time() - scheduled) * 1000.0)
            out.statuses[status] = out.statuses.get(status, 0) + 1
            if status != 200:
                out.errors += 1
    finally:
        writer.close()


async def _run(
    host: str,
    port: int,
    path: str,
    bodies: list[dict[str, object]],
    clients: int,
    seconds: float,
    rate: float | None,
    headers: dict[str, str],
) -> LoadResult:
    loop = asyncio.get_running_loop()
    out = LoadResult(seconds=seconds)
    stop_at = loop.time() + seconds
    interval = clients / rate if rate else None
    started = time.perf_counter()
    await asyncio.gather(
        *(
            _client(
                host,
                port,
                path,
                bodies,
                seed,
                stop_at,
                interval,
                (interval or 0.0) * seed / clients,
                headers,
                out,
            )
            for seed in range(clients)
        )
    )
    out.seconds = time.perf_counter() - started
    return out


def run_load(
    base: str,
    path: str,
    bodies: list[dict[str, object]],
    *,
    clients: int,
    seconds: float,
    rate: float | None = None,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Drive ``POST path`` on ``base`` (``http://host:port``) and collect latencies."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    return asyncio.run(_run(host, int(port), path, bodies, clients, seconds, rate, headers or {}))
