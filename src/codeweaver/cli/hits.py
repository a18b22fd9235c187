"""The lines of a search answer, as (text, style) segments, without loading rich.

``render`` prints them styled on a terminal; piped output is written as plain text
(what rich would print there) without importing rich at all, which keeps a search
answered by the owner fast.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["DEGRADED", "Line", "search_lines", "write_plain"]

Line = list[tuple[str, str]]  # (text, rich style or "")
DEGRADED: Line = [
    ("degraded:", "yellow"),
    (" the embedding provider is unavailable; keyword matches only", ""),
]


def search_lines(body: dict[str, Any]) -> list[Line]:
    """Ranked hits with their first snippet lines, then the count and time."""
    hits = body["results"]
    lines: list[Line] = [] if hits else [[("no results", "dim")]]
    for rank, hit in enumerate(hits, 1):
        where = f"{hit['path']}:{hit['start_line']}-{hit['end_line']}"
        what = f"{hit['symbol']} " if hit["symbol"] else ""
        lines.append(
            [
                (f"{rank:>2}. {where}", "bold"),
                ("  ", ""),
                (what, "cyan"),
                (f"({hit['kind']}, {hit['language']}) {hit['score']:.4f}", "dim"),
            ]
        )
        lines.extend([[(f"      {line[:160]}", "dim")] for line in hit["snippet"].splitlines()[:3]])
    lines.append([(f"{len(hits)} results in {body['took_ms']:.1f} ms", "dim")])
    return lines


def write_plain(lines: list[Line], stream: Any = None) -> None:
    out = stream or sys.stdout
    out.write("".join("".join(t for t, _ in line).expandtabs(8) + "\n" for line in lines))
    out.flush()
