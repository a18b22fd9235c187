"""The code-aware re-ranking signals: each pure function, and how rerank combines them."""

from __future__ import annotations

import pytest

from codeweaver.core.signals import (
    RerankParams,
    adaptive_weights,
    file_decay,
    name_match,
    path_match,
    path_penalty,
    query_identifiers,
    query_words,
    rerank,
)
from codeweaver.types import Hit


def _hit(path: str, symbol: str = "", score: float = 1.0, start: int = 1) -> Hit:
    return Hit(path, start, start + 5, symbol, "function", "python", score, "", f"{path}:{start}")


def test_query_identifiers_finds_only_identifier_shaped_parts() -> None:
    got = query_identifiers("where does parse_config call loadSettings or Engine.search()")
    assert got == {"parse_config", "loadsettings", "search"}
    assert query_identifiers("where is the retry policy configured") == frozenset()


def test_query_words_are_stemmed_sub_tokens_without_stop_words() -> None:
    assert query_words("Parses the configs of a project") == {"parse", "config", "project"}


def test_name_match_exact_identifier_then_token_share() -> None:
    words = query_words("parse the config file")
    assert name_match(_hit("a.py", "mod.parse_config"), words, frozenset({"parse_config"})) == 1.0
    assert name_match(_hit("a.py", "mod.parse_config"), words, frozenset()) == 1.0
    assert name_match(_hit("a.py", "Loader.parse_header"), words, frozenset()) == 0.5
    assert name_match(_hit("a.py", "render"), words, frozenset()) == 0.0
    assert name_match(_hit("a.py", ""), words, frozenset()) == 0.0


def test_path_match_uses_the_file_stem() -> None:
    words = query_words("where is the retry policy")
    assert path_match("src/adapters/http_retry.py", words) == 0.5
    assert path_match("src/adapters/retry.py", words) == 1.0
    assert path_match("src/engine.py", words) == 0.0


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("src/pkg/core.py", (False, False)),
        ("tests/test_core.py", (True, False)),
        ("pkg/core_test.go", (True, False)),
        ("src/util.spec.ts", (True, False)),
        ("vendor/github.com/x/y.go", (True, False)),
        ("dist/bundle.min.js", (True, False)),
        ("api/v1/types.pb.go", (True, False)),
        ("pkg/_compat.py", (True, False)),
        ("pkg/__init__.py", (False, True)),
        ("src/index.ts", (False, True)),
        ("src/de/mod.rs", (False, True)),
        ("src/contest.py", (False, False)),
    ],
)
def test_path_penalty_classifies_paths(path: str, expected: tuple[bool, bool]) -> None:
    assert path_penalty(path) == expected


def test_file_decay_is_geometric() -> None:
    assert file_decay(0, 0.5) == 1.0
    assert file_decay(2, 0.5) == 0.25


def test_rerank_with_every_signal_off_keeps_the_fused_order() -> None:
    hits = [_hit("b.py", "x", 0.5), _hit("a.py", "y", 0.5), _hit("c.py", "z", 0.9)]
    assert rerank(hits, "anything", RerankParams()) == hits
    assert not RerankParams().active


def test_rerank_name_boost_lifts_the_matching_definition() -> None:
    hits = [_hit("a.py", "render", 0.30), _hit("b.py", "parse_config", 0.25)]
    out = rerank(hits, "parse the config", RerankParams(name_boost=0.5))
    assert [h.symbol for h in out] == ["parse_config", "render"]
    assert out[0].score == pytest.approx(0.375)


def test_rerank_test_penalty_and_file_decay() -> None:
    hits = [
        _hit("tests/test_a.py", "a", 0.30),
        _hit("a.py", "a1", 0.29, start=1),
        _hit("a.py", "a2", 0.28, start=20),
        _hit("b.py", "b", 0.25),
    ]
    out = rerank(hits, "q", RerankParams(test_penalty=0.5))
    assert out[-1].path == "tests/test_a.py"
    out = rerank(hits, "q", RerankParams(file_decay=0.5))
    assert [h.symbol for h in out] == ["a", "a1", "b", "a2"]


def test_adaptive_weights_follow_the_query_shape() -> None:
    assert adaptive_weights("where is parse_config", 1.0, 1.0, 0.5) == (1.0, 1.5)
    assert adaptive_weights("where is the retry policy", 1.0, 1.0, 0.5) == (1.5, 1.0)
    assert adaptive_weights("anything", 1.0, 2.0, 0.0) == (1.0, 2.0)
