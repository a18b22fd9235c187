"""Code-aware tokenizer for the lexical (BM25) side.

``parseHTTPResponse2`` → ``parsehttpresponse2``, ``parse``, ``http``, ``response``, ``2``;
``retry_failed_uploads`` → ``retry_failed_uploads``, ``retry``, ``failed``, ``uploads``
(and, with light stemming, ``fail``, ``upload``). Whole identifiers are kept so an exact
identifier query scores its definition above documents that merely share its parts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

__all__ = ["STOPWORDS", "split_identifier", "stem", "tokenize"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
# camelCase / PascalCase / ACRONYMWord / digits boundaries.
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

STOPWORDS: frozenset[str] = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "we",
        "you",
        "do",
        "does",
        "did",
        "not",
        "no",
        "so",
        "if",
        "then",
        "else",
        "elif",
        "than",
        "these",
        "those",
        "there",
        "their",
        "them",
        "they",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "how",
        "can",
        "could",
        "should",
        "would",
        "may",
        "self",
        "cls",
        "var",
        "let",
        "const",
    ]
)

_MAX_TOKEN = 40


def split_identifier(ident: str) -> list[str]:
    """Split one identifier on underscores, camelCase and digit boundaries (lowercased)."""
    parts: list[str] = []
    for piece in ident.split("_"):
        if piece:
            parts.extend(p.lower() for p in _CAMEL.findall(piece))
    return parts


def stem(token: str) -> str:
    """A deliberately light suffix stripper: plurals, -ing, -ed (applied to docs and queries)."""
    if len(token) > 5 and token.endswith("ing"):
        return token[:-3]
    if len(token) > 4 and token.endswith("ed") and not token.endswith("eed"):
        return token[:-2]
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def _keep(token: str) -> bool:
    return 1 < len(token) <= _MAX_TOKEN and token not in STOPWORDS


@lru_cache(maxsize=131_072)
def _ident_tokens(ident: str, stemming: bool) -> tuple[str, ...]:
    """The tokens of one identifier (identifiers repeat a lot, so this is cached)."""
    parts = split_identifier(ident)
    out: list[str] = []
    whole = ident.lower()
    if len(parts) > 1 and _keep(whole):
        out.append(whole)
    for part in parts:
        if not _keep(part) or (part.isdigit() and len(part) > 4):
            continue
        out.append(stem(part) if stemming else part)
    return tuple(out)


def tokenize(text: str, *, stemming: bool = True) -> Iterator[str]:
    """Yield lexical tokens of ``text``: whole identifiers and their parts, lowercased."""
    for ident in _IDENT.findall(text):
        yield from _ident_tokens(ident, stemming)
