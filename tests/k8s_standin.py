"""A loopback stand-in for the subset of the Kubernetes REST API the operator tools use.

Run: python k8s_standin.py PORT TOKEN. It answers, for the objects of the current scenario
(JSON, as the official client serializes its models; replaced with PUT /_scenario):

  GET /api/v1/namespaces/{ns}
  GET /api/v1/namespaces/{ns}/{pods|services|endpoints}?labelSelector=k=v,...
  GET /api/v1/namespaces/{ns}/pods/{name}/log?container=C&sinceSeconds=N
  GET /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods?labelSelector=...

Errors are Kubernetes ``Status`` objects: 401 without the bearer token, 403 for the
resources the scenario lists as forbidden, 404 for a missing object, and 404 for the
whole metrics API when the scenario has no metrics (as when metrics-server is absent).
GET /_requests lists the requests seen (path and query), for the tests to read.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.parse
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOCK = threading.Lock()
STATE: dict[str, Any] = {"scenario": {}, "requests": []}
USER = "system:serviceaccount:codeweaver:codeweaver"


def status(code: int, reason: str, message: str, kind: str = "") -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": {"kind": kind} if kind else {},
        "code": code,
    }


def matches(obj: dict[str, Any], selector: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


class Handler(BaseHTTPRequestHandler):
    token = ""

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, code: int, body: Any, ctype: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        if self.path != "/_scenario":
            self._send(405, status(405, "MethodNotAllowed", "method not allowed"))
            return
        length = int(self.headers.get("Content-Length", "0"))
        with LOCK:
            STATE["scenario"] = json.loads(self.rfile.read(length))
            STATE["requests"] = []
        self._send(200, {"ok": True})

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/_requests":
            with LOCK:
                self._send(200, list(STATE["requests"]))
            return
        with LOCK:
            STATE["requests"].append({"path": url.path, "query": query})
            scenario = STATE["scenario"]
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self._send(401, status(401, "Unauthorized", "Unauthorized"))
            return
        parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
        code, body = self.route(scenario, parts, query)
        if isinstance(body, bytes):
            self._send(code, body, "text/plain")
        else:
            self._send(code, body)

    def route(self, sc: dict[str, Any], parts: list[str], q: dict[str, str]) -> tuple[int, Any]:
        forbidden = set(sc.get("forbidden") or [])
        if parts[:3] == ["apis", "metrics.k8s.io", "v1beta1"]:
            if sc.get("metrics") is None:
                return 404, status(
                    404, "NotFound", "the server could not find the requested resource"
                )
            if parts[3:4] != ["namespaces"] or parts[5:] != ["pods"]:
                return 404, status(404, "NotFound", "not found")
            items = [
                m for m in sc["metrics"] if (m.get("metadata") or {}).get("namespace") == parts[4]
            ]
            items = [m for m in items if matches(m, q.get("labelSelector", ""))]
            return 200, {
                "kind": "PodMetricsList",
                "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {},
                "items": items,
            }
        if parts[:3] != ["api", "v1", "namespaces"] or len(parts) < 4:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        ns = parts[3]
        if len(parts) == 4:
            if "namespaces" in forbidden:
                return 403, status(
                    403,
                    "Forbidden",
                    f'namespaces "{ns}" is forbidden: User "{USER}" '
                    f'cannot get resource "namespaces" in API group "" at the cluster scope',
                    "namespaces",
                )
            found = (sc.get("namespaces") or {}).get(ns)
            if found is None:
                return 404, status(404, "NotFound", f'namespaces "{ns}" not found', "namespaces")
            return 200, found
        resource = parts[4]
        if len(parts) == 5:
            if resource in forbidden:
                return 403, status(
                    403,
                    "Forbidden",
                    f'{resource} is forbidden: User "{USER}" cannot '
                    f'list resource "{resource}" in API group "" in the namespace "{ns}"',
                    resource,
                )
            items = [o for o in sc.get(resource) or [] if o["metadata"].get("namespace") == ns]
            items = [o for o in items if matches(o, q.get("labelSelector", ""))]
            kind = {"pods": "PodList", "services": "ServiceList", "endpoints": "EndpointsList"}
            return 200, {
                "kind": kind.get(resource, "List"),
                "apiVersion": "v1",
                "metadata": {"resourceVersion": "1"},
                "items": items,
            }
        if resource == "pods" and len(parts) == 7 and parts[6] == "log":
            return self.log(sc, ns, parts[5], q, forbidden)
        return 404, status(404, "NotFound", "the server could not find the requested resource")

    def log(
        self, sc: dict[str, Any], ns: str, pod: str, q: dict[str, str], forbidden: set[str]
    ) -> tuple[int, Any]:
        if "pods/log" in forbidden:
            return 403, status(
                403,
                "Forbidden",
                f'pods "{pod}" is forbidden: User "{USER}" cannot get '
                f'resource "pods/log" in API group "" in the namespace "{ns}"',
                "pods",
            )
        known = [
            p
            for p in sc.get("pods") or []
            if p["metadata"]["name"] == pod and p["metadata"].get("namespace") == ns
        ]
        if not known:
            return 404, status(404, "NotFound", f'pods "{pod}" not found', "pods")
        container = q.get("container", "")
        entries = (sc.get("logs") or {}).get(f"{pod}/{container}")
        if entries is None:
            return 400, status(
                400, "BadRequest", f"container {container} is not valid for pod {pod}"
            )
        since = int(q["sinceSeconds"]) if "sinceSeconds" in q else None
        now = time.time()
        lines = [
            text
            for when, text in entries
            if since is None or datetime.fromisoformat(when).timestamp() >= now - since
        ]
        return 200, "".join(line + "\n" for line in lines).encode()


def main() -> None:
    port, Handler.token = int(sys.argv[1]), sys.argv[2]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
