"""Code-aware ranking signals applied after fusion, each a small pure function.

Every signal maps one fused hit (and the query) to a multiplier of its fused score; 1.0
means "no opinion". :func:`rerank` applies the enabled ones and re-sorts stably, so with
every signal off the fused order is kept exactly.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from codeweaver.core.tokenizer import STOPWORDS, split_identifier, stem
from codeweaver.types import Hit

__all__ = [
    "RerankParams",
    "adaptive_weights",
    "file_decay",
    "name_match",
    "path_match",
    "path_penalty",
    "query_identifiers",
    "query_words",
    "rerank",
]

_WORD = re.compile(r"[A-Za-z_$][\w$]*")
# identifier-shaped: snake_case, camelCase/PascalCase with an inner capital, dotted, or `x()`
_IDENT_SHAPED = re.compile(
    r"[A-Za-z_$][\w$]*(?:(?:\.|::|->)[A-Za-z_$][\w$]*)+|[A-Za-z$]*_[\w$]+|[a-z$]+[A-Z][\w$]*"
    r"|[A-Z][a-z0-9]+[A-Z][\w$]*|[A-Za-z_$][\w$]*\(\)"
)
_STOP = frozenset({"get", "gets", "given", "return", "returns", "set", "sets", "when", "which"})
_TEST_PARTS = re.compile(
    r"(^|/)(tests?|testing|__tests__|spec|specs|testdata|fixtures?)/"
    r"|(^|/)test_[^/]*$|_tests?\.[a-z]+$|\.(test|spec)\.[a-z]+$|Tests?\.java$"
)
_VENDOR_PARTS = re.compile(r"(^|/)(vendor|vendored|third_party|node_modules|_vendor)/")
_GENERATED_PARTS = re.compile(
    r"(^|/)(dist|build|generated|gen)/|\.min\.js$|\.pb\.go$|_pb2\.py$|[._]generated\.[a-z]+$"
)
_COMPAT_PARTS = re.compile(r"(^|/)(compat|polyfills?|legacy)(/|\.[a-z]+$)|_compat\.[a-z]+$")
_INIT_NAMES = frozenset({"__init__.py", "index.js", "index.ts", "index.mjs", "mod.rs", "lib.rs"})


@dataclass(frozen=True, slots=True)
class RerankParams:
    """Strength of each signal; 0 (or 1.0 for ``file_decay``) turns it off."""

    name_boost: float = 0.0
    path_boost: float = 0.0
    test_penalty: float = 0.0
    init_penalty: float = 0.0
    file_decay: float = 1.0

    @property
    def active(self) -> bool:
        return bool(
            self.name_boost
            or self.path_boost
            or self.test_penalty
            or self.init_penalty
            or self.file_decay != 1.0
        )


@functools.lru_cache(maxsize=65536)
def _subtokens(text: str) -> frozenset[str]:
    out: set[str] = set()
    for word in _WORD.findall(text):
        out.update(stem(t.lower()) for t in split_identifier(word) if len(t) > 1)
    return frozenset(out - _STOP - STOPWORDS)


def query_words(text: str) -> frozenset[str]:
    """The query's lower-cased word and identifier sub-tokens, stop words removed."""
    return _subtokens(text)


def query_identifiers(text: str) -> frozenset[str]:
    """Identifier-shaped parts of a natural-language query, lower-cased, last component."""
    found: set[str] = set()
    for m in _IDENT_SHAPED.finditer(text):
        part = re.split(r"\.|::|->", m.group().removesuffix("()"))[-1]
        if part:
            found.add(part.lower())
    return frozenset(found)


def name_match(hit: Hit, words: frozenset[str], identifiers: frozenset[str]) -> float:
    """How well the hit's symbol name matches the query, 0..1.

    1.0 when an identifier-shaped part of the query is the symbol's own name; otherwise
    the share of the name's sub-tokens that occur among the query's words.
    """
    name = hit.symbol.rsplit(".", 1)[-1]
    if not name:
        return 0.0
    if name.lower() in identifiers:
        return 1.0
    parts = _subtokens(name)
    if not parts or not words:
        return 0.0
    return len(parts & words) / len(parts)


def path_match(path: str, words: frozenset[str]) -> float:
    """Share of the file name's sub-tokens (extension dropped) that occur in the query."""
    stem = path.rsplit("/", 1)[-1].split(".", 1)[0]
    parts = _subtokens(stem)
    if not parts or not words:
        return 0.0
    return len(parts & words) / len(parts)


@functools.lru_cache(maxsize=65536)
def path_penalty(path: str) -> tuple[bool, bool]:
    """(is a test/vendored/generated/compat file, is an ``__init__``-style file)."""
    low = path.replace("\\", "/")
    secondary = bool(
        _TEST_PARTS.search(low)
        or _VENDOR_PARTS.search(low)
        or _GENERATED_PARTS.search(low)
        or _COMPAT_PARTS.search(low)
    )
    return secondary, low.rsplit("/", 1)[-1] in _INIT_NAMES


def file_decay(rank_in_file: int, decay: float) -> float:
    """Multiplier for the ``rank_in_file``-th (0-based) hit from one file."""
    return float(decay**rank_in_file)


def adaptive_weights(query: str, dense: float, sparse: float, shift: float) -> tuple[float, float]:
    """Fusion weights for this query: identifier-shaped parts raise the BM25 side by
    ``shift``, a plain natural-language question raises the dense side by it."""
    if not shift:
        return dense, sparse
    if query_identifiers(query):
        return dense, sparse * (1.0 + shift)
    return dense * (1.0 + shift), sparse


def rerank(hits: Sequence[Hit], query: str, params: RerankParams) -> list[Hit]:
    """The hits re-scored by the enabled signals, best first (stable for ties)."""
    if not params.active or not hits:
        return list(hits)
    words = query_words(query)
    idents = query_identifiers(query)
    scored: list[tuple[float, int, Hit]] = []
    for i, hit in enumerate(hits):
        m = 1.0
        if params.name_boost:
            m *= 1.0 + params.name_boost * name_match(hit, words, idents)
        if params.path_boost:
            m *= 1.0 + params.path_boost * path_match(hit.path, words)
        if params.test_penalty or params.init_penalty:
            secondary, init = path_penalty(hit.path)
            m *= (1.0 - params.test_penalty) if secondary else 1.0
            m *= (1.0 - params.init_penalty) if init else 1.0
        scored.append((hit.score * m, i, hit))
    scored.sort(key=lambda t: (-t[0], t[1]))
    if params.file_decay != 1.0:
        seen: dict[str, int] = {}
        decayed: list[tuple[float, int, Hit]] = []
        for s, i, hit in scored:
            n = seen.get(hit.path, 0)
            seen[hit.path] = n + 1
            decayed.append((s * file_decay(n, params.file_decay), i, hit))
        decayed.sort(key=lambda t: (-t[0], t[1]))
        scored = decayed
    return [hit if s == hit.score else _rescored(hit, s) for s, _, hit in scored]


def _rescored(h: Hit, score: float) -> Hit:
    return Hit(
        h.path, h.start_line, h.end_line, h.symbol, h.kind, h.language, score, h.snippet, h.id
    )
