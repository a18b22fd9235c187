"""A small HTTP(S) server that answers like a CodeWeaver deployment for the operator tools'
tests: /metrics in Prometheus text (every scrape adds one fixed batch of traffic, so rates
and ratios are known), the health routes, the project list and a bearer-token check on
/api/v1/user/permissions. Run: python ops_stub_server.py PORT [--token T] [--cert C --key K]
[--bare] [--no-metrics] (--bare: only the request counters and latency histogram;
--no-metrics: /metrics answers 404).
"""

from __future__ import annotations

import argparse
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MIB = 1024 * 1024
REQ_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REQ_PER_SCRAPE = (10, 40, 70, 90, 95, 98, 99, 100, 100, 100)  # cumulative, 100 requests
SEARCH_BOUNDS = (0.01, 0.05, 0.1, 0.5, 1.0)
SEARCH_PER_SCRAPE = (2, 10, 16, 19, 20)  # cumulative, 20 searches
STARTED = time.time()


def metrics(n: int, bare: bool) -> str:
    out = ["# TYPE codeweaver_requests_total counter"]
    for endpoint, status, per in (
        ("/api/v1/search", "200", 98),
        ("/api/v1/search", "500", 2),
        ("/health", "200", 50),
    ):
        out.append(
            f'codeweaver_requests_total{{method="POST",endpoint="{endpoint}",'
            f'status="{status}",tenant_id="default"}} {per * n}'
        )
    out.append("# TYPE codeweaver_request_duration_seconds histogram")
    h = "codeweaver_request_duration_seconds"
    for le, c in zip(REQ_BOUNDS, REQ_PER_SCRAPE, strict=True):
        out.append(f'{h}_bucket{{method="POST",endpoint="/api/v1/search",le="{le}"}} {c * n}')
    out.append(f'{h}_bucket{{method="POST",endpoint="/api/v1/search",le="+Inf"}} {100 * n}')
    out.append(f'{h}_sum{{method="POST",endpoint="/api/v1/search"}} {2.5 * n}')
    out.append(f'{h}_count{{method="POST",endpoint="/api/v1/search"}} {100 * n}')
    if bare:
        return "\n".join(out) + "\n"
    s = "codeweaver_search_latency_seconds"
    out.append(f"# TYPE {s} histogram")
    for le, c in zip(SEARCH_BOUNDS, SEARCH_PER_SCRAPE, strict=True):
        out.append(f'{s}_bucket{{query_type="natural_language",le="{le}"}} {c * n}')
    out.append(f'{s}_bucket{{query_type="natural_language",le="+Inf"}} {20 * n}')
    out.append(f'{s}_sum{{query_type="natural_language"}} {1.0 * n}')
    out.append(f'{s}_count{{query_type="natural_language"}} {20 * n}')
    r = "codeweaver_search_results_count"
    out.append(f"# TYPE {r} histogram")
    out.append(f'{r}_bucket{{le="+Inf"}} {20 * n}')
    out.append(f"{r}_sum {200 * n}")
    out.append(f"{r}_count {20 * n}")
    for kind, hits, misses in (("results", 80, 20), ("embedding", 30, 70)):
        out.append(f'codeweaver_cache_hits_total{{cache_type="{kind}"}} {hits * n}')
        out.append(f'codeweaver_cache_misses_total{{cache_type="{kind}"}} {misses * n}')
        out.append(f'codeweaver_cache_hit_rate{{cache_type="{kind}"}} {hits / 100}')
        out.append(f'codeweaver_cache_size_bytes{{cache_type="{kind}"}} {8 * MIB}')
    out.append(f'codeweaver_memory_usage_bytes{{component="api"}} {500 * MIB}')
    out.append(f'codeweaver_memory_usage_bytes{{component="embedder"}} {300 * MIB}')
    out.append('codeweaver_cpu_usage_percent{component="api"} 35.0')
    out.append('codeweaver_health_check{component="vector_store"} 1')
    out.append('codeweaver_vector_collection_size{collection="demo"} 1234')
    out.append(
        f'codeweaver_index_last_success_timestamp_seconds{{project="demo"}} {STARTED - 3600}'
    )
    out.append(f"process_resident_memory_bytes {900 * MIB}")
    out.append(f"process_start_time_seconds {STARTED}")
    return "\n".join(out) + "\n"


HEALTH = {
    "status": "healthy",
    "components": {
        "vector_store": {"status": "healthy", "detail": "1 projects, 1234 points"},
        "embedder": {"status": "healthy", "detail": "minilm-l6-v2-int8 (384 dims)"},
        "index_freshness": {"status": "healthy", "detail": "1 projects up to date"},
        "disk_space": {"status": "healthy", "detail": "50.00 GiB free"},
    },
}
PROJECTS = {"projects": [{"project": "demo", "points": 1234, "state": "complete"}]}


def make_handler(token: str | None, bare: bool, no_metrics: bool) -> type[BaseHTTPRequestHandler]:
    scrapes = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _send(self, status: int, body: str, ctype: str = "application/json") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/metrics" and not no_metrics:
                with lock:
                    scrapes[0] += 1
                    n = scrapes[0]
                self._send(200, metrics(n, bare), "text/plain; version=0.0.4")
            elif path in ("/health", "/api/v1/health"):
                self._send(200, json.dumps(HEALTH))
            elif path == "/api/v1/projects":
                self._send(200, json.dumps(PROJECTS))
            elif path == "/api/v1/user/permissions" and token is not None:
                if self.headers.get("Authorization") == f"Bearer {token}":
                    self._send(200, json.dumps({"user": "ops", "permissions": ["search"]}))
                else:
                    self._send(401, json.dumps({"error": {"code": "unauthorized"}}))
            else:
                self._send(404, json.dumps({"error": {"code": "not_found"}}))

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--token")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--bare", action="store_true")
    ap.add_argument("--no-metrics", action="store_true")
    args = ap.parse_args()
    server = ThreadingHTTPServer(
        ("127.0.0.1", args.port), make_handler(args.token, args.bare, args.no_metrics)
    )
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
