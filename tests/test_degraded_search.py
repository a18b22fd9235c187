"""Model safety, sparse-only search while the provider is down, and indexing that pauses
and resumes, with the Voyage provider against the local embeddings server process."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from cache_services import embedding_server  # noqa: F401
from codeweaver.api import create_app
from codeweaver.config import Settings
from codeweaver.container import build_engine
from codeweaver.errors import EmbeddingError, InputError
from codeweaver.mcp.tools import CodeTools
from codeweaver.search.service import SearchRequest
from embedder_twin import HashEmbedder

FILES = {
    "mail.py": "def send_email(to, body):\n    return smtp.send(to, body)\n",
    "conf.py": "def parse_config(text):\n    return dict(x.split('=') for x in text)\n",
    "net.py": "def open_socket(host, port):\n    return socket.create(host, port)\n",
    "db.py": "def run_query(sql):\n    return cursor.execute(sql)\n",
}


@pytest.fixture
def server(embedding_server):  # noqa: F811
    embedding_server.reset()
    yield embedding_server
    embedding_server.reset()


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / "app"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    return folder


def voyage_settings(tmp_path, server, **embedding) -> Settings:
    cfg = {
        "provider": "voyage",
        "base_url": server.url,
        "api_key": "k",
        "dimensions": 256,
        "max_retries": 0,
        "breaker_failures": 100,
        **embedding,
    }
    return Settings(home=tmp_path / "home", embedding=cfg, cache={"warm_after_index": False})


def test_searching_with_another_model_is_refused(tmp_path, root):
    settings = Settings(home=tmp_path / "home")
    engine = build_engine(settings, embedder=HashEmbedder(64, "hash-64"))
    engine.index(root, "app")
    engine.close()
    for other in (HashEmbedder(32, "hash-32"), HashEmbedder(32, "hash-64")):
        engine = build_engine(settings, embedder=other)
        with pytest.raises(InputError, match=r"indexed with model hash-64 \(64 dims\)") as info:
            engine.search(SearchRequest("send email"), "app")
        assert "never mixed" in str(info.value) and "--project NEW" in str(info.value)
        with pytest.raises(InputError, match="re-index with --full"):
            engine.index(root, "app")
        engine.close()


def test_provider_down_gives_sparse_only_answers(tmp_path, server, root):
    settings = voyage_settings(tmp_path, server)
    engine = build_engine(settings)
    engine.index(root, "app")
    ok = engine.search(SearchRequest("send an email"), "app")
    assert not ok.degraded and ok.hits[0].symbol == "send_email"
    server.script(fail_all=503)
    down = engine.search(SearchRequest("email body smtp"), "app")
    assert down.degraded and down.hits[0].symbol == "send_email"
    mcp = CodeTools(engine).search_code("email smtp", project="app")
    assert mcp["degraded"] is True and mcp["results"]

    async def scenario() -> None:
        app = create_app(settings, engine, mount_mcp=False, auth_mode="none")
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                r = await c.post("/api/v1/search", json={"query": "smtp send", "project": "app"})
                assert r.status_code == 200 and r.json()["degraded"] is True
                assert r.json()["results"][0]["symbol"] == "send_email"
                health = (await c.get("/api/v1/health")).json()
                assert health["status"] == "degraded"
                assert health["components"]["embedder"]["status"] == "degraded"
                assert (await c.get("/health/ready")).status_code == 200
                server.script()
                r = await c.post("/api/v1/search", json={"query": "smtp send", "project": "app"})
                assert r.json()["degraded"] is False  # the degraded answer was not cached
                health = (await c.get("/api/v1/health")).json()
                assert health["components"]["embedder"]["status"] == "healthy"

    asyncio.run(scenario())
    engine.close()


def test_indexing_pauses_through_a_short_outage(tmp_path, server, root):
    settings = voyage_settings(tmp_path, server, max_batch_texts=1, outage_wait_seconds=20)
    engine = build_engine(settings)
    server.script({"ok": True}, {"status": 503}, {"status": 429})
    stats = engine.index(root, "app")
    assert stats.files_indexed == 4 and not stats.failures
    assert server.stats()["texts"] == 4
    engine.close()


def test_indexing_stops_after_the_wait_and_resumes(tmp_path, server, root):
    settings = voyage_settings(tmp_path, server, max_batch_texts=1, outage_wait_seconds=1.0)
    engine = build_engine(settings)
    server.script({"ok": True}, {"ok": True}, fail_all=503)
    with pytest.raises(EmbeddingError, match="re-run to resume"):
        engine.index(root, "app")
    assert engine.status("app")["files"] == 2  # finished files were kept
    server.reset()
    stats = engine.index(root, "app")
    assert stats.files_indexed == 2 and stats.files_unchanged == 2
    assert server.stats()["texts"] == 2 and engine.status("app")["points"] == 4
    engine.close()


def test_cli_search_says_degraded(tmp_path, server, root, monkeypatch):
    import json

    from typer.testing import CliRunner

    from codeweaver.cli.app import app
    from codeweaver.cli.state import close_engine

    monkeypatch.chdir(tmp_path)
    env = {
        "CODEWEAVER_HOME": str(tmp_path / "home"),
        "CODEWEAVER_EMBEDDING__PROVIDER": "voyage",
        "CODEWEAVER_EMBEDDING__BASE_URL": server.url,
        "CODEWEAVER_EMBEDDING__API_KEY": "k",
        "CODEWEAVER_EMBEDDING__MAX_RETRIES": "0",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    runner = CliRunner()
    try:
        assert runner.invoke(app, ["index", str(root), "--json"]).exit_code == 0
        res = runner.invoke(app, ["search", "smtp email", "--json"])
        assert res.exit_code == 0 and "degraded" not in json.loads(res.stdout)
        server.script(fail_all=500)
        res = runner.invoke(app, ["search", "email smtp", "--json"])
        assert res.exit_code == 0, res.output
        body = json.loads(res.stdout)
        assert body["degraded"] is True and body["results"][0]["symbol"] == "send_email"
        res = runner.invoke(app, ["search", "smtp body"])
        assert res.exit_code == 0 and "degraded" in res.stderr
    finally:
        close_engine()


def test_health_probe_spends_no_request_when_recent_ones_tell(tmp_path, server):
    settings = voyage_settings(tmp_path, server)
    emb = build_engine(settings).embedder
    assert emb.probe()[0] == "healthy" and server.stats()["requests"] == 1  # had to ask
    assert emb.probe()[0] == "healthy" and server.stats()["requests"] == 1  # recent success
    server.script(fail_all=503)
    with pytest.raises(EmbeddingError):
        emb.embed_query("x")
    sent = server.stats()["requests"]
    status, detail = emb.probe()
    assert status == "degraded" and "BM25" in detail and server.stats()["requests"] == sent
    emb.close()
