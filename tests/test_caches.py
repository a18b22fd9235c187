"""Level-1 cache, the two-level wrapper, the embedding and result caches, popular queries,
warming and the ``codeweaver cache`` commands (in process, hash embedder twin)."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from codeweaver.cli.app import app
from codeweaver.config import Settings
from codeweaver.container import build_engine
from codeweaver.core.cache import LruCache, TieredCache
from codeweaver.core.embedding_cache import CachingEmbedder
from codeweaver.errors import InputError
from codeweaver.search.service import FusionParams, SearchRequest
from embedder_twin import HashEmbedder

PY = '''def parse_config(text):
    """Parse key=value lines."""
    return dict(line.split("=", 1) for line in text.splitlines())


def send_email(to, body):
    return smtp.send(to, body)
'''
GO = "package server\n\nfunc listen(port int) error { return nil }\n"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lru_is_bounded_by_bytes_and_expires():
    clock = Clock()
    lru = LruCache(3 * (1 + 100 + 64), clock=clock)
    for k in "abc":
        lru.set(k, b"x" * 100, ttl_seconds=10)
    assert lru.entries == 3 and lru.size_bytes == 3 * 165
    lru.get("a")  # a is now the most recent; b goes first
    lru.set("d", b"y" * 100, 10)
    assert lru.get("b") is None and lru.get("a") and lru.get("d")
    lru.set("big", b"z" * 10_000, 10)
    assert lru.get("big") is None and lru.size_bytes <= 3 * 165
    clock.now = 11
    assert lru.get("a") is None and lru.entries == 2
    assert lru.clear("") == 2 and lru.size_bytes == 0


def test_tiered_fills_level_one_from_level_two():
    l2 = LruCache(10_000)
    tiered = TieredCache(LruCache(10_000), l2)
    l2.set("k", b"v", 60)
    assert tiered.l1.get("k") is None
    assert tiered.get("k") == b"v" and tiered.l1.get("k") == b"v"
    tiered.set("n", b"w", 60)
    assert l2.get("n") == b"w"
    assert tiered.clear("") == 2 and l2.entries == 0


def test_caching_embedder_dedupes_and_keys_by_role():
    inner = HashEmbedder()
    emb = CachingEmbedder(inner, LruCache(1 << 20), 60)
    first = emb.embed_documents(["a b", "c d", "a b"])
    assert inner.texts == 2 and first[0] == first[2]
    assert emb.embed_documents(["c d"]) == [first[1]] and inner.texts == 2
    assert emb.counters.hits == 1 and emb.counters.misses == 2
    assert emb.key("x", "q") != emb.key("x", "d")
    assert emb.embed_query("a b") == pytest.approx(first[0], abs=1e-6)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "shop"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg/config.py").write_text(PY)
    (root / "server.go").write_text(GO)
    settings = Settings(home=tmp_path / "home")
    inner = HashEmbedder()
    engine = build_engine(settings, embedder=inner)
    yield engine, inner, root, settings
    engine.close()


def test_moving_every_file_costs_no_embedding_calls(env):
    engine, inner, root, _ = env
    engine.index(root, "shop")
    before = inner.texts
    shutil.move(root / "pkg", root / "lib")
    shutil.move(root / "server.go", root / "lib" / "net.go")
    stats = engine.index(root, "shop")
    assert stats.files_indexed == 2 and stats.files_deleted == 2
    assert inner.texts == before  # every chunk text was embedded before
    hits = engine.search(SearchRequest("parse_config"), "shop").hits
    assert hits[0].path == "lib/config.py"


def test_result_cache_hits_and_is_invalidated_by_reindex(env):
    engine, _, root, _ = env
    engine.index(root, "shop")
    req = SearchRequest("parse config lines", limit=3)
    first = engine.search(req, "shop")
    assert engine.cache_stats()["results"]["misses"] == 1
    again = engine.search(SearchRequest("  parse   config lines ", limit=3), "shop")
    assert again.hits == first.hits
    assert engine.cache_stats()["results"]["hits"] == 1
    engine.search(req, "shop", tenant="acme")  # other tenant: its own entry
    engine.search(SearchRequest("parse config lines", limit=2), "shop")  # other filters
    engine.search(req, "shop", params=FusionParams(use_dense=False))  # custom fusion: uncached
    assert engine.cache_stats()["results"]["misses"] == 3
    (root / "pkg/config.py").write_text(PY.replace("parse_config", "read_settings"))
    engine.index(root, "shop")
    fresh = engine.search(req, "shop")
    assert all(h.symbol != "parse_config" for h in fresh.hits)
    stats = engine.cache_stats()
    assert set(stats) == {"embedding", "results"}
    assert set(stats["results"]) == {"hits", "misses", "size_bytes", "entries"}
    assert stats["results"]["entries"] >= 3 and stats["results"]["size_bytes"] > 0
    assert stats["embedding"]["misses"] > 0


def test_unchanged_reindex_keeps_the_version(env):
    engine, _, root, _ = env
    engine.index(root, "shop")
    engine.search(SearchRequest("listen port"), "shop")
    engine.index(root, "shop")  # nothing changed
    engine.search(SearchRequest("listen port"), "shop")
    assert engine.cache_stats()["results"]["hits"] == 1


def test_popular_queries_and_warming(env):
    engine, inner, root, _ = env
    engine.index(root, "shop")
    for _ in range(3):
        engine.search(SearchRequest("send email"), "shop", tenant="acme")
    engine.search(SearchRequest("listen port"), "shop")
    with pytest.raises(InputError):
        engine.search(SearchRequest("   "), "shop")  # failed searches are not counted
    report = engine.cache_report()
    assert report["popular"]["shop"][0] == {"tenant": "acme", "query": "send email", "count": 3}
    assert len(report["popular"]["shop"]) == 2
    assert engine.clear_cache()["results"] >= 2
    done = engine.warm_cache("shop")
    assert done == {"projects": 1, "searches": 2, "phrases": 8}
    hits_before = engine.cache_stats()["results"]["hits"]
    engine.search(SearchRequest("send email"), "shop", tenant="acme")
    assert engine.cache_stats()["results"]["hits"] == hits_before + 1
    # warming re-ran searches without counting them as popular
    assert engine.cache_report()["popular"]["shop"][0]["count"] == 4
    calls = inner.texts
    engine.warm_cache("shop")  # phrases are cached now
    assert inner.texts == calls


def test_cache_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODEWEAVER_HOME", str(tmp_path / "home"))
    root = tmp_path / "shop"
    root.mkdir()
    (root / "config.py").write_text(PY)
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(root), "--json"]).exit_code == 0
    assert runner.invoke(app, ["search", "parse config", "--json"]).exit_code == 0
    from codeweaver.cli.state import close_engine

    close_engine()
    res = runner.invoke(app, ["cache", "stats", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["popular"]["shop"][0]["query"] == "parse config"
    assert report["shared"] == {"configured": False}
    res = runner.invoke(app, ["cache", "warm", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["searches"] == 1
    res = runner.invoke(app, ["cache", "clear", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["removed"]["results"] == 1
    res = runner.invoke(app, ["cache", "clear", "--project", "nope"])
    assert res.exit_code == 2 and "nope" in res.stderr
    res = runner.invoke(app, ["cache", "stats"])
    assert res.exit_code == 0 and "not configured" in res.stdout
    close_engine()
