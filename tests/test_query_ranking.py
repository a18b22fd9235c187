import pytest

from codeweaver.core.query import parse_query, validate_limit
from codeweaver.core.ranking import dedupe_overlaps, definitions_first
from codeweaver.errors import InputError
from codeweaver.types import Hit


def hit(path, start, end, symbol="", kind="function", score=1.0, id_=None):
    return Hit(path, start, end, symbol, kind, "python", score, "", id_ or f"{path}:{start}")


@pytest.mark.parametrize(
    ("text", "ident"),
    [
        ("parse_config", "parse_config"),
        ("Server.start", "Server.start"),
        ("std::vector", "std.vector"),
        ("parseConfig()", "parseConfig"),
        ("$this->save", "this.save"),
        ("where do we retry uploads", None),
        ("a-b", None),
    ],
)
def test_identifier_detection(text, ident):
    assert parse_query(text).identifier == ident


def test_query_validation():
    with pytest.raises(InputError, match="empty"):
        parse_query("   ")
    with pytest.raises(InputError, match="limit is 2000"):
        parse_query("x" * 10_000)
    assert parse_query("  many   spaces  ").text == "many spaces"
    for bad in (0, -1, 101):
        with pytest.raises(InputError, match="between 1 and 100"):
            validate_limit(bad)
    assert validate_limit(100) == 100


def test_dedupe_keeps_best_of_overlapping_ranges_per_file():
    hits = [
        hit("a.py", 10, 20, score=3),
        hit("a.py", 15, 30, score=2),
        hit("b.py", 10, 20, score=1),
        hit("a.py", 31, 40, score=0.5),
    ]
    kept = dedupe_overlaps(hits)
    assert [(h.path, h.start_line) for h in kept] == [("a.py", 10), ("b.py", 10), ("a.py", 31)]


def test_definitions_first_orders_exact_then_name_matches():
    fused = [hit("use.py", 1, 5, "caller", score=0.5), hit("def.py", 1, 9, "parse", score=0.2)]
    defs = [hit("other.py", 1, 3, "Other.parse", "method"), hit("def.py", 1, 9, "parse")]
    out = definitions_first(fused, defs, "parse")
    assert [h.symbol for h in out] == ["parse", "Other.parse", "caller"]
    assert out[0].score > out[1].score > out[2].score


def test_definitions_first_ignores_non_definitions():
    fused = [hit("a.py", 1, 5, "x")]
    defs = [hit("README.md", 1, 5, "parse", kind="section")]
    assert definitions_first(fused, defs, "parse") == fused
