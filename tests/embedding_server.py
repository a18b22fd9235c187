"""A local embeddings server speaking the Voyage AI and OpenAI ``/v1/embeddings`` APIs.

Run: ``python tests/embedding_server.py [--port 0] [--key KEY] [--max-texts N]
[--max-tokens N]``; it prints ``PORT <n>`` once listening. Vectors are a deterministic
hashed bag of words (so similar texts get similar vectors). Requests over the limits
get 400 like the real APIs. Tokens are counted as one per four UTF-8 bytes.

Control endpoints for tests:

* ``POST /_script`` ``{"steps": [...]}``: each embeddings request consumes one step:
  ``{"status": 429, "retry_after": "0.2"}``, ``{"status": 500}``, ``{"delay": 1.5}``
  (then answers normally), ``{"malformed": true}``, ``{"dims": 7}`` (wrong size),
  ``{"ok": true}`` (answers even under ``fail_all``). ``"fail_all": 503`` fails every
  request without an ``ok`` step until reset.
* ``GET /_stats``: requests, texts, batch sizes, input types, auth headers seen.
* ``POST /_reset``: clear the script and the counters.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL_DIMS = {
    "voyage-code-3": 1024,
    "voyage-code-2": 1536,
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "nomic-embed-text": 768,
}
WORD = re.compile(r"[A-Za-z0-9]+")


def server_tokens(text: str) -> int:
    return max(1, math.ceil(len(text.encode("utf-8")) / 4))


def embed(text: str, dim: int) -> list[float]:
    vec = [0.0] * dim
    for word in WORD.findall(text.lower()):
        h = zlib.crc32(word.encode())
        vec[h % dim] += 1.0 if (h >> 16) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    if norm == 0.0:
        vec[0], norm = 1.0, 1.0
    return [round(v / norm, 6) for v in vec]


class State:
    def __init__(self, key: str | None, max_texts: int, max_tokens: int) -> None:
        self.key = key
        self.max_texts = max_texts
        self.max_tokens = max_tokens
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.fail_all: int | None = None
        self.requests = 0
        self.texts = 0
        self.batches: list[int] = []
        self.tokens: list[int] = []
        self.input_types: list[str | None] = []
        self.auth: list[str | None] = []

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "texts": self.texts,
            "batches": self.batches,
            "tokens": self.tokens,
            "input_types": self.input_types,
            "auth": self.auth,
        }


class Handler(BaseHTTPRequestHandler):
    server_version = "embeddings-test/1"
    state: State

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length", "0"))
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:
        if self.path == "/_stats":
            with self.state.lock:
                self._send(200, self.state.stats())
        else:
            self._send(404, {"detail": "not found"})

    def do_POST(self) -> None:
        st = self.state
        if self.path == "/_script":
            body = self._body()
            with st.lock:
                st.steps = list(body.get("steps", []))
                st.fail_all = body.get("fail_all")
            self._send(200, {"ok": True})
            return
        if self.path == "/_reset":
            with st.lock:
                st.reset()
            self._send(200, {"ok": True})
            return
        if self.path.rstrip("/") not in ("/v1/embeddings", "/embeddings"):
            self._send(404, {"detail": "not found"})
            return
        self._embeddings(self._body())

    def _embeddings(self, body: dict[str, Any]) -> None:
        st = self.state
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        with st.lock:
            st.requests += 1
            step = st.steps.pop(0) if st.steps else {}
            fail_all = st.fail_all
            st.auth.append(self.headers.get("Authorization"))
            st.input_types.append(body.get("input_type"))
        if fail_all and not step.get("ok"):
            self._send(fail_all, {"detail": "service unavailable"})
            return
        if "status" in step:
            headers = {"Retry-After": str(step["retry_after"])} if "retry_after" in step else {}
            self._send(int(step["status"]), {"detail": f"scripted {step['status']}"}, headers)
            return
        if step.get("delay"):
            time.sleep(float(step["delay"]))
        if step.get("malformed"):
            self._send(200, b'{"data": [{"embedding": "oops"')
            return
        if st.key is not None and self.headers.get("Authorization") != f"Bearer {st.key}":
            self._send(401, {"detail": "Provided API key is invalid."})
            return
        if not isinstance(texts, list) or not texts:
            self._send(400, {"detail": "input must be a non-empty list"})
            return
        tokens = sum(server_tokens(t) for t in texts)
        if len(texts) > st.max_texts:
            self._send(400, {"detail": f"input list has more than {st.max_texts} items"})
            return
        if tokens > st.max_tokens:
            self._send(400, {"detail": f"request has {tokens} tokens, over the token limit"})
            return
        dim = body.get("output_dimension") or body.get("dimensions")
        dim = int(dim or MODEL_DIMS.get(str(body.get("model")), 1024))
        if step.get("dims"):
            dim = int(step["dims"])
        with st.lock:
            st.texts += len(texts)
            st.batches.append(len(texts))
            st.tokens.append(tokens)
        data = [
            {"object": "embedding", "embedding": embed(t, dim), "index": i}
            for i, t in enumerate(texts)
        ]
        self._send(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"total_tokens": tokens, "prompt_tokens": tokens},
            },
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key", default=None)
    ap.add_argument("--max-texts", type=int, default=1000)
    ap.add_argument("--max-tokens", type=int, default=120_000)
    args = ap.parse_args()
    Handler.state = State(args.key, args.max_texts, args.max_tokens)
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    httpd.daemon_threads = True
    print(f"PORT {httpd.server_address[1]}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
