"""A process that answers ``GET /collections`` the way the Qdrant server's REST API does
(``{"result": {"collections": [{"name": ...}]}, "status": "ok", "time": ...}``), with an
optional API key checked on the ``api-key`` header or a bearer token as Qdrant does.
Run: python qdrant_rest_stub.py PORT [--api-key K] [--collection NAME]... (``/healthz``,
as in Qdrant, needs no key)."""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--api-key")
    ap.add_argument("--collection", action="append", default=[])
    args = ap.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if args.api_key is not None and self.path != "/healthz":
                bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if args.api_key not in (self.headers.get("api-key"), bearer):
                    self._send(401, {"status": {"error": "Must provide an API key"}})
                    return
            if self.path == "/collections":
                found = [{"name": n} for n in args.collection]
                self._send(200, {"result": {"collections": found}, "status": "ok", "time": 0.0})
            elif self.path == "/healthz":
                self._send(200, {"title": "qdrant - vector search engine"})
            else:
                self._send(404, {"status": {"error": f"Not found: {self.path}"}})

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
