"""Observer hooks of searches and indexing runs (the events themselves live in ``types``)."""

from __future__ import annotations

from collections.abc import Callable

from codeweaver.core.query import parse_query
from codeweaver.errors import InputError
from codeweaver.types import IndexEvent, SearchEvent

__all__ = ["IndexListener", "SearchListener", "query_type_of"]

SearchListener = Callable[[SearchEvent], None]
IndexListener = Callable[[IndexEvent], None]


def query_type_of(query: str) -> str:
    """``identifier`` / ``natural_language`` for a query, ``invalid`` if it is rejected."""
    try:
        return parse_query(query, max_chars=1 << 30).query_type
    except InputError:
        return "invalid"
