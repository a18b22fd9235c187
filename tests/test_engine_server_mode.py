"""The whole engine on the Qdrant server adapter (qdrant-client's API-congruent local mode)."""

from __future__ import annotations

import pytest

from codeweaver.config import load_settings
from codeweaver.container import build_engine
from codeweaver.errors import ConfigError
from codeweaver.search.service import SearchRequest
from embedder_twin import HashEmbedder


def test_index_and_search_through_server_adapter(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "a.py").write_text(
        "def parse_config(text):\n    return dict(x.split('=') for x in text)\n"
    )
    (root / "b.py").write_text("def send_email(to, body):\n    smtp.send(to, body)\n")
    settings = load_settings(home=tmp_path / "h", qdrant={"mode": "server", "url": ":memory:"})
    engine = build_engine(settings, embedder=HashEmbedder())
    stats = engine.index(root, "proj")
    assert stats.chunks_total == 2
    hits = engine.search(SearchRequest("parse_config", limit=2), "proj").hits
    assert hits[0].symbol == "parse_config"
    assert engine.status("proj")["points"] == 2
    engine.close()


def test_server_mode_needs_a_url(tmp_path):
    settings = load_settings(home=tmp_path / "h", qdrant={"mode": "server"})
    with pytest.raises(ConfigError, match=r"qdrant\.url"):
        build_engine(settings, embedder=HashEmbedder())
