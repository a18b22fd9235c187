"""Result shaping after fusion: definition-first for identifier queries, de-duplication."""

from __future__ import annotations

from collections.abc import Iterable

from codeweaver.types import Hit

__all__ = ["dedupe_overlaps", "definitions_first"]

_DEFINITION_KINDS = frozenset(
    {
        "function",
        "method",
        "class",
        "struct",
        "interface",
        "enum",
        "trait",
        "impl",
        "type",
        "module",
        "namespace",
        "constructor",
        "record",
        "union",
    }
)


def _overlaps(a: Hit, b: Hit) -> bool:
    return a.path == b.path and a.start_line <= b.end_line and b.start_line <= a.end_line


def dedupe_overlaps(hits: Iterable[Hit]) -> list[Hit]:
    """Keep the best-ranked hit of every group of overlapping line ranges in one file."""
    kept: list[Hit] = []
    by_path: dict[str, list[Hit]] = {}
    for hit in hits:
        same_file = by_path.setdefault(hit.path, [])
        if any(_overlaps(hit, k) for k in same_file):
            continue
        same_file.append(hit)
        kept.append(hit)
    return kept


def _definition_rank(hit: Hit, identifier: str) -> int | None:
    """0: qualified symbol equals the query; 1: last component equals it; else None."""
    if hit.kind not in _DEFINITION_KINDS:
        return None
    if hit.symbol == identifier:
        return 0
    want = identifier.rsplit(".", 1)[-1]
    if hit.symbol.rsplit(".", 1)[-1] == want:
        return 1
    lowered = want.lower()
    if hit.symbol.rsplit(".", 1)[-1].lower() == lowered:
        return 2
    return None


def definitions_first(hits: list[Hit], definitions: list[Hit], identifier: str) -> list[Hit]:
    """Put definitions of ``identifier`` ahead of the fused results, best match first."""
    ranked = [
        (r, i, h)
        for i, h in enumerate(definitions)
        if (r := _definition_rank(h, identifier)) is not None
    ]
    ranked.sort(key=lambda t: (t[0], t[1]))
    top = [h for _, _, h in ranked]
    top_ids = {h.id for h in top}
    rest = [h for h in hits if h.id not in top_ids]
    if top:
        best = max((h.score for h in hits), default=0.0)
        top = [_with_score(h, best + (len(top) - i) * 1e-3) for i, h in enumerate(top)]
    return top + rest


def _with_score(hit: Hit, score: float) -> Hit:
    return Hit(
        hit.path,
        hit.start_line,
        hit.end_line,
        hit.symbol,
        hit.kind,
        hit.language,
        score,
        hit.snippet,
        hit.id,
    )
