"""Text without known structure, chunked by overlapping line windows."""

from __future__ import annotations

from codeweaver.core.chunking.options import ChunkOptions, LineTable, context_for
from codeweaver.core.chunking.splitting import window_ranges
from codeweaver.types import Chunk

__all__ = ["chunk_lines"]


def chunk_lines(
    table: LineTable,
    language: str,
    options: ChunkOptions,
    *,
    kind: str = "text",
) -> list[Chunk]:
    """Windows of ``options.window`` lines (at most ``max_lines``) sharing ``options.overlap``
    lines; symbol ``""``."""
    if not table.lines:
        return []
    window = min(options.window, options.max_lines)
    ranges = window_ranges(table, 0, len(table) - 1, window, options.overlap, options.max_chars)
    context = context_for(table, options, (), "")
    return [table.chunk(language, kind, "", rows, context) for rows in ranges]
