"""Chunking settings, the context header and the one place a :class:`Chunk` is built."""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from codeweaver.errors import ConfigError
from codeweaver.types import Chunk

__all__ = [
    "ChunkOptions",
    "ContextOptions",
    "LineTable",
    "build_context",
    "content_hash",
]


@dataclass(frozen=True, slots=True)
class ContextOptions:
    """Which parts of the context header each chunk carries."""

    include_path: bool = True
    include_container: bool = True
    include_signature: bool = True


@dataclass(frozen=True, slots=True)
class ChunkOptions:
    """Size limits of chunks.

    ``max_lines``/``max_chars``: a larger definition, section or stretch of top-level
    code is split on inner boundaries. ``min_lines``: a class-like container spanning at
    most this many lines stays one chunk instead of one chunk per member. ``window`` /
    ``overlap``: line windows for text without structure.
    """

    max_lines: int = 150
    max_chars: int = 6000
    min_lines: int = 12
    window: int = 60
    overlap: int = 10
    context: ContextOptions = field(default_factory=ContextOptions)

    def __post_init__(self) -> None:
        if self.max_lines < 1:
            raise ConfigError("chunk max_lines must be at least 1")
        if self.max_chars < 1:
            raise ConfigError("chunk max_chars must be at least 1")
        if self.min_lines < 0:
            raise ConfigError("chunk min_lines must not be negative")
        if self.window < 1:
            raise ConfigError("chunk window must be at least 1")
        if not 0 <= self.overlap < self.window:
            raise ConfigError("chunk overlap must be at least 0 and smaller than the window")


def build_context(
    path: str,
    containers: Sequence[str],
    signature: str,
    *,
    include_path: bool = True,
    include_container: bool = True,
    include_signature: bool = True,
) -> str:
    """The header that tells a reader where ``content`` comes from.

    >>> build_context("src/m.py", ["class Foo"], "def bar(self)")
    '# path: src/m.py\\n# in class Foo\\n# def bar(self)'
    """
    parts: list[str] = []
    if include_path and path:
        parts.append(f"# path: {path}")
    if include_container and containers:
        parts.append("# in " + " > ".join(containers))
    if include_signature and signature:
        parts.append(f"# {signature}")
    return "\n".join(parts)


def content_hash(content: str) -> str:
    """The first 16 bytes (32 hex digits) of the SHA-256 of the UTF-8 content."""
    data = content.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:32]


class LineTable:
    """The lines of one file (0-based rows) and what chunks need to know about them."""

    __slots__ = ("_prefix", "blank", "lines", "path")

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.split("\n")
        self.blank = [not line.strip() for line in self.lines]
        self._prefix = [0, *itertools.accumulate(len(line) + 1 for line in self.lines)]

    def __len__(self) -> int:
        return len(self.lines)

    def chars(self, start: int, end: int) -> int:
        """Characters (newlines included) of rows ``start..end`` inclusive."""
        return self._prefix[end + 1] - self._prefix[start]

    def last_within(self, start: int, limit: int, max_chars: int) -> int:
        """The last row ``r <= limit`` with ``chars(start, r) <= max_chars``, at least ``start``."""
        prefix = self._prefix
        index = bisect.bisect_right(prefix, prefix[start] + max_chars, start + 1, limit + 2)
        return max(start, index - 2)

    def first_filled(self, start: int, end: int) -> int:
        """The first non-blank row in ``start..end``, or ``end + 1``."""
        blank = self.blank
        while start <= end and blank[start]:
            start += 1
        return start

    def last_filled(self, start: int, end: int) -> int:
        """The last non-blank row in ``start..end``, or ``start - 1``."""
        blank = self.blank
        while end >= start and blank[end]:
            end -= 1
        return end

    def chunk(
        self,
        language: str,
        kind: str,
        symbol: str,
        rows: tuple[int, int],
        context: str,
    ) -> Chunk:
        """A chunk over rows ``rows[0]..rows[1]`` (0-based, inclusive)."""
        start, end = rows
        content = "\n".join(self.lines[start : end + 1])
        return Chunk(
            path=self.path,
            language=language,
            kind=kind,
            symbol=symbol,
            start_line=start + 1,
            end_line=end + 1,
            content=content,
            content_hash=content_hash(content),
            context=context,
        )


def context_for(
    table: LineTable, options: ChunkOptions, containers: Sequence[str], signature: str
) -> str:
    """:func:`build_context` with the flags of ``options``."""
    ctx = options.context
    return build_context(
        table.path,
        containers,
        signature,
        include_path=ctx.include_path,
        include_container=ctx.include_container,
        include_signature=ctx.include_signature,
    )
