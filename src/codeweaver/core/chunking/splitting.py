"""Cutting row ranges into parts that respect the size limits.

Rows are 0-based and ranges inclusive. Parts never start or end on a blank row.
"""

from __future__ import annotations

from collections.abc import Iterable

from codeweaver.core.chunking.options import LineTable

__all__ = ["fits", "split_range", "window_ranges"]


def fits(table: LineTable, start: int, end: int, max_lines: int, max_chars: int) -> bool:
    """Whether rows ``start..end`` are within both limits."""
    return end - start + 1 <= max_lines and table.chars(start, end) <= max_chars


def split_range(
    table: LineTable,
    start: int,
    end: int,
    boundaries: Iterable[int],
    max_lines: int,
    max_chars: int,
) -> list[tuple[int, int]]:
    """Greedy parts of ``start..end``, cut before a boundary or a blank row when possible.

    A part is cut before the last boundary that keeps it within the limits, unless that
    leaves less than a quarter of a limit: then (and without any boundary) it is cut
    hard at the limit. A single row longer than ``max_chars``
    becomes a part of its own.
    """
    start = table.first_filled(start, end)
    end = table.last_filled(start, end)
    if start > end:
        return []
    if fits(table, start, end, max_lines, max_chars):
        return [(start, end)]
    cuts = {b for b in boundaries if start < b <= end}
    blank = table.blank
    parts: list[tuple[int, int]] = []
    part = start
    last_cut = -1
    row = start
    while row <= end:
        if row > part and not fits(table, part, row, max_lines, max_chars):
            cut = last_cut if _worth_it(table, part, last_cut, max_lines, max_chars) else row
            _add(table, parts, part, cut - 1)
            part = table.first_filled(cut, end)
            last_cut = _last_cut_between(cuts, blank, part, row)
            row = max(row, part)
            continue
        if row in cuts or blank[row]:
            last_cut = row
        row += 1
    _add(table, parts, part, end)
    return parts


def _worth_it(table: LineTable, start: int, cut: int, max_lines: int, max_chars: int) -> bool:
    """Whether cutting before ``cut`` leaves a part of at least a quarter of a limit."""
    if cut <= start:
        return False
    return (cut - start) * 4 >= max_lines or table.chars(start, cut - 1) * 4 >= max_chars


def _last_cut_between(cuts: set[int], blank: list[bool], lo: int, hi: int) -> int:
    """The last row in ``lo+1..hi-1`` that is a boundary or blank, or ``-1``."""
    for row in range(hi - 1, lo, -1):
        if row in cuts or blank[row]:
            return row
    return -1


def _add(table: LineTable, parts: list[tuple[int, int]], start: int, end: int) -> None:
    end = table.last_filled(start, end)
    if start <= end:
        parts.append((start, end))


def window_ranges(
    table: LineTable,
    start: int,
    end: int,
    window: int,
    overlap: int,
    max_chars: int,
) -> list[tuple[int, int]]:
    """Overlapping line windows over ``start..end``.

    Each window spans at most ``window`` rows and ``max_chars`` characters (unless one
    row alone is longer); consecutive windows share up to ``overlap`` rows, never more
    than half of a window.
    """
    parts: list[tuple[int, int]] = []
    row = table.first_filled(start, end)
    while row <= end:
        stop = table.last_within(row, min(end, row + window - 1), max_chars)
        parts.append((row, table.last_filled(row, stop)))
        if stop >= end:
            break
        shared = min(overlap, (stop - row + 1) // 2)
        row = table.first_filled(max(row + 1, stop + 1 - shared), end)
    return parts
