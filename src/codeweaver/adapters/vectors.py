"""Small conversions shared by the store adapters."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["as_floats"]


def as_floats(values: Sequence[float]) -> list[float]:
    """A plain ``list[float]`` (numpy rows converted in one call)."""
    tolist = getattr(values, "tolist", None)
    if tolist is not None:
        return list(tolist())
    return values if isinstance(values, list) else list(values)
