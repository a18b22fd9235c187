"""Query parsing: validation and what kind of query this is."""

from __future__ import annotations

import re
from dataclasses import dataclass

from codeweaver.errors import InputError

__all__ = ["ParsedQuery", "parse_query", "validate_limit"]

# `parse_config`, `Foo.bar`, `foo::Bar`, `parseConfig()`, `$obj->method` …
_IDENTIFIER = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:\.|::|->|#)[A-Za-z_$][\w$]*)*(?:\(\))?$")

MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    text: str
    identifier: str | None  # the symbol to look up, for identifier-looking queries

    @property
    def query_type(self) -> str:
        return "identifier" if self.identifier else "natural_language"


def parse_query(text: str, *, max_chars: int = 2000) -> ParsedQuery:
    cleaned = " ".join(text.split())
    if not cleaned:
        raise InputError("query is empty")
    if len(cleaned) > max_chars:
        raise InputError(f"query is {len(cleaned)} characters; the limit is {max_chars}")
    ident = None
    if _IDENTIFIER.match(cleaned):
        bare = cleaned.removesuffix("()").lstrip("$")
        ident = re.sub(r"::|->|#", ".", bare)
    return ParsedQuery(text=cleaned, identifier=ident)


def validate_limit(limit: int) -> int:
    if limit <= 0 or limit > MAX_LIMIT:
        raise InputError(f"limit must be between 1 and {MAX_LIMIT} (got {limit})")
    return limit
