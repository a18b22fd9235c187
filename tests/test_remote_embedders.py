"""Voyage and OpenAI-compatible clients against a real local embeddings server process."""

from __future__ import annotations

import math
import time

import pytest

from cache_services import EmbeddingServer, embedding_server  # noqa: F401
from codeweaver.adapters.http_retry import CircuitBreaker, HttpJsonClient, RetryPolicy
from codeweaver.adapters.openai_embedder import OpenAIEmbedder
from codeweaver.adapters.remote_embedder import estimate_tokens, plan_batches
from codeweaver.adapters.voyage_embedder import VoyageEmbedder
from codeweaver.config import load_settings
from codeweaver.container import build_embedder
from codeweaver.errors import ConfigError, EmbeddingError

FAST = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def server(embedding_server):  # noqa: F811
    embedding_server.reset()
    yield embedding_server
    embedding_server.reset()


def client(server, *, timeout=5.0, policy=FAST, breaker=None, key="k-123"):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return HttpJsonClient(
        "test provider", server.url, headers, timeout=timeout, policy=policy, breaker=breaker
    )


def voyage(server, **kw) -> VoyageEmbedder:
    dims = kw.pop("dimensions", 256)
    return VoyageEmbedder(client(server, **kw), "voyage-code-3", dims)


def test_voyage_documents_and_queries(server):
    emb = voyage(server)
    vecs = emb.embed_documents(["def parse_config(text): pass", "class Uploader: pass"])
    assert len(vecs) == 2 and all(len(v) == 256 for v in vecs)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-6 for v in vecs)
    q = emb.embed_query("parse config")
    assert len(q) == 256 and emb.dim == 256 and emb.model_id == "voyage-code-3"
    stats = server.stats()
    assert stats["input_types"] == ["document", "query"]
    assert stats["auth"] == ["Bearer k-123", "Bearer k-123"]


def test_voyage_dimensions_are_checked():
    with pytest.raises(ConfigError, match="256, 512, 1024, 2048"):
        VoyageEmbedder(HttpJsonClient("x", "http://127.0.0.1:9", {}), "voyage-code-3", 300)
    emb = VoyageEmbedder(HttpJsonClient("x", "http://127.0.0.1:9", {}), "voyage-code-2")
    assert emb.dim == 1536 and "output_dimension" not in emb.body(["a"], "query")


def test_429_with_retry_after_is_honoured(server):
    server.script({"status": 429, "retry_after": "0.3"})
    started = time.perf_counter()
    assert len(voyage(server).embed_documents(["a b c"])) == 1
    assert time.perf_counter() - started >= 0.3
    assert server.stats()["requests"] == 2


def test_500s_are_retried_with_backoff(server):
    server.script({"status": 500}, {"status": 502})
    assert len(voyage(server).embed_documents(["x"])[0]) == 256
    assert server.stats()["requests"] == 3


def test_retries_give_up_with_a_clear_error(server):
    server.script(*[{"status": 503}] * 10)
    with pytest.raises(EmbeddingError, match=r"failed after 4 attempts: HTTP 503"):
        voyage(server).embed_documents(["x"])


def test_slow_response_times_out_then_retries(server):
    server.script({"delay": 1.0})
    started = time.perf_counter()
    assert voyage(server, timeout=0.2).embed_documents(["x"])
    assert time.perf_counter() - started < 1.0
    server.script(*[{"delay": 0.5}] * 5)
    with pytest.raises(EmbeddingError, match="timed out"):
        voyage(server, timeout=0.1).embed_documents(["x"])


def test_malformed_body_and_wrong_dimensions(server):
    server.script({"malformed": True})
    with pytest.raises(EmbeddingError, match="not JSON"):
        voyage(server).embed_documents(["x"])
    server.script({"dims": 7})
    with pytest.raises(EmbeddingError, match=r"7-dimensional vectors, expected 256"):
        voyage(server).embed_documents(["x"])


def test_bad_key_is_not_retried_and_not_shown():
    srv = EmbeddingServer("--key", "right-key")
    try:
        emb = voyage(srv, key="wrong-secret")
        with pytest.raises(EmbeddingError, match="HTTP 401") as info:
            emb.embed_query("x")
        assert "wrong-secret" not in str(info.value)
        assert srv.stats()["requests"] == 1
        assert voyage(srv, key="right-key").embed_query("x")
    finally:
        srv.stop()


def test_circuit_breaker_opens_and_recovers(server):
    breaker = CircuitBreaker(failure_threshold=3, reset_seconds=0.5)
    emb = voyage(server, policy=RetryPolicy(max_retries=0), breaker=breaker)
    server.script(fail_all=503)
    for _ in range(3):
        with pytest.raises(EmbeddingError, match="HTTP 503"):
            emb.embed_documents(["x"])
    assert breaker.state == "open"
    with pytest.raises(EmbeddingError, match="circuit open"):
        emb.embed_documents(["x"])
    assert server.stats()["requests"] == 3  # the open breaker sent nothing
    server.script()
    time.sleep(0.55)
    assert emb.embed_query("x") and breaker.state == "closed"


def test_batches_respect_count_and_token_limits(server):
    emb = VoyageEmbedder(client(server), "voyage-code-3", 256, max_texts=10, max_tokens=400)
    texts = [("word " * (i % 40 + 1)).strip() for i in range(95)]
    vecs = emb.embed_documents(texts)
    assert len(vecs) == 95
    assert vecs[7] == emb.embed_documents([texts[7]])[0]  # order kept across batches
    stats = server.stats()
    assert max(stats["batches"]) <= 10
    total = sum(estimate_tokens(t) for t in texts)
    minimum = max(math.ceil(95 / 10), math.ceil(total / 400))
    assert stats["requests"] - 1 <= minimum + 1


def test_too_large_for_the_provider_is_split():
    srv = EmbeddingServer("--max-tokens", "200")
    try:
        emb = VoyageEmbedder(client(srv), "voyage-code-3", 256, max_tokens=100_000)
        texts = ["token " * 50] * 12  # ~75 server tokens each
        assert len(emb.embed_documents(texts)) == 12
        assert max(srv.stats()["tokens"]) <= 200
    finally:
        srv.stop()


def test_plan_batches_fills_requests():
    tokens = [5, 90, 40, 60, 10, 50, 45, 100, 1]
    batches = plan_batches(tokens, max_texts=3, max_tokens=100)
    assert sorted(i for b in batches for i in b) == list(range(9))
    assert all(len(b) <= 3 and sum(tokens[i] for i in b) <= 100 for b in batches)
    assert len(batches) == 5  # 401 tokens need at least 5 requests of 100


def test_openai_compatible(server):
    emb = OpenAIEmbedder(client(server, key=None), "text-embedding-3-small", 512)
    assert len(emb.embed_query("hello")) == 512
    assert emb.body(["a"], "query")["dimensions"] == 512
    local = OpenAIEmbedder(client(server, key=None), "nomic-embed-text", 768)
    assert "dimensions" not in local.body(["a"], "query")
    assert len(local.embed_documents(["a", "b"])[1]) == 768
    assert server.stats()["auth"] == [None, None]
    with pytest.raises(ConfigError, match="dimensions"):
        OpenAIEmbedder(client(server), "nomic-embed-text")


def test_settings_pick_the_provider(server, tmp_path, monkeypatch):
    key_file = tmp_path / "key"
    key_file.write_text("k-from-file\n")
    monkeypatch.setenv("CODEWEAVER_EMBEDDING__PROVIDER", "voyage")
    monkeypatch.setenv("CODEWEAVER_EMBEDDING__BASE_URL", server.url)
    monkeypatch.setenv("CODEWEAVER_EMBEDDING__API_KEY_FILE", str(key_file))
    emb = build_embedder(load_settings(home=tmp_path))
    assert emb.model_id == "voyage-code-3" and emb.dim == 1024
    emb.embed_query("x")
    assert server.stats()["auth"] == ["Bearer k-from-file"]
    monkeypatch.delenv("CODEWEAVER_EMBEDDING__API_KEY_FILE")
    with pytest.raises(ConfigError, match="needs an API key"):
        build_embedder(load_settings(home=tmp_path))
    monkeypatch.setenv("CODEWEAVER_EMBEDDING__PROVIDER", "openai")
    monkeypatch.setenv("CODEWEAVER_EMBEDDING__MODEL", "bge-small")
    monkeypatch.setenv("CODEWEAVER_EMBEDDING__DIMENSIONS", "384")
    assert build_embedder(load_settings(home=tmp_path)).dim == 384


def test_backoff_and_retry_after_parsing():
    from email.utils import formatdate

    from codeweaver.adapters.http_retry import _retry_after

    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert policy.backoff(0, rng=lambda: 0.0) == 0.25 and policy.backoff(0, rng=lambda: 1.0) == 0.5
    assert policy.backoff(10, rng=lambda: 1.0) == 4.0  # capped
    assert _retry_after("2") == 2.0 and _retry_after(None) is None and _retry_after("soon") is None
    later = _retry_after(formatdate(time.time() + 30, usegmt=True))
    assert later is not None and 25 < later <= 30


def test_requests_run_concurrently_within_the_bound(server):
    http = HttpJsonClient("test provider", server.url, {}, policy=FAST, concurrency=2)
    emb = VoyageEmbedder(http, "voyage-code-3", 256, max_texts=1, concurrency=2)
    server.script(*[{"delay": 0.5}] * 4)
    started = time.perf_counter()
    assert len(emb.embed_documents(["a", "b", "c", "d"])) == 4
    elapsed = time.perf_counter() - started
    assert 1.0 <= elapsed < 1.9  # two at a time: two rounds of 0.5 s, not one or four
    emb.close()
