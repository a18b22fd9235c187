"""Markdown chunked by headings.

Each section runs from its heading (ATX ``#`` or setext underline) to the next heading
and is named by its heading path (``Intro > Install``). A heading followed directly by
another heading joins the next section. Lines inside fenced code blocks and YAML/TOML
front matter are never headings. Oversized sections are cut into line windows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from codeweaver.core.chunking.options import ChunkOptions, LineTable, context_for
from codeweaver.core.chunking.splitting import fits, window_ranges
from codeweaver.types import Chunk

__all__ = ["chunk_markdown"]

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_NOT_PARAGRAPH = re.compile(r"^(?: {4,}|\t|\s*(?:[-*+]|\d{1,9}[.)])(?:\s|$)|\s*[>|<])")
_FRONT_MATTER = {"---": ("---", "..."), "+++": ("+++",)}


@dataclass(frozen=True, slots=True)
class _Heading:
    row: int  # first row of the heading (the text row of a setext heading)
    level: int
    title: str
    rows: int  # 1 for ATX, 2 for setext


def _front_matter_end(lines: list[str]) -> int:
    """The first row after front matter (0 without any)."""
    closers = _FRONT_MATTER.get(lines[0].strip()) if lines else None
    if closers is None:
        return 0
    for row in range(1, len(lines)):
        if lines[row].strip() in closers:
            return row + 1
    return 0


class _Fence:
    __slots__ = ("char", "length")

    def __init__(self) -> None:
        self.char = ""
        self.length = 0

    def feed(self, line: str) -> bool:
        """Whether ``line`` is part of a fenced block (its fences included)."""
        match = _FENCE.match(line)
        if self.char:
            if (
                match is not None
                and match.group(1)[0] == self.char
                and len(match.group(1)) >= self.length
                and not match.group(2).strip()
            ):
                self.char = ""
            return True
        if match is None or (match.group(1)[0] == "`" and "`" in match.group(2)):
            return False
        self.char = match.group(1)[0]
        self.length = len(match.group(1))
        return True


def _headings(lines: list[str]) -> list[_Heading]:
    headings: list[_Heading] = []
    fence = _Fence()
    paragraph = False
    for row in range(_front_matter_end(lines), len(lines)):
        line = lines[row]
        if fence.feed(line):
            paragraph = False
            continue
        atx = _ATX.match(line)
        if atx:
            headings.append(_Heading(row, len(atx.group(1)), (atx.group(2) or "").strip(), 1))
            paragraph = False
            continue
        underline = _SETEXT.match(line)
        if underline:
            if paragraph:
                level = 1 if underline.group(1)[0] == "=" else 2
                headings.append(_Heading(row - 1, level, lines[row - 1].strip(), 2))
            paragraph = False
            continue
        paragraph = bool(line.strip()) and not _NOT_PARAGRAPH.match(line)
    return headings


@dataclass(frozen=True, slots=True)
class _Section:
    start: int
    end: int
    path: tuple[str, ...]
    heading: str


def _sections(table: LineTable) -> list[_Section]:
    lines = table.lines
    headings = _headings(lines)
    sections: list[_Section] = []
    first = headings[0].row if headings else len(lines)
    if table.first_filled(0, first - 1) < first:
        sections.append(_Section(0, first - 1, (), ""))
    stack: list[_Heading] = []
    pending = -1
    for index, heading in enumerate(headings):
        end = headings[index + 1].row - 1 if index + 1 < len(headings) else len(lines) - 1
        while stack and stack[-1].level >= heading.level:
            stack.pop()
        stack.append(heading)
        start = pending if pending >= 0 else heading.row
        body_start = heading.row + heading.rows
        if index + 1 < len(headings) and table.first_filled(body_start, end) > end:
            pending = start
            continue
        pending = -1
        path = tuple(h.title for h in stack)
        sections.append(_Section(start, end, path, lines[heading.row].strip()))
    return sections


def chunk_markdown(table: LineTable, language: str, options: ChunkOptions) -> list[Chunk]:
    """Section chunks (kind ``section``, symbol = heading path) of a Markdown file."""
    chunks: list[Chunk] = []
    for section in _sections(table):
        start = table.first_filled(section.start, section.end)
        end = table.last_filled(start, section.end)
        if start > end:
            continue
        if fits(table, start, end, options.max_lines, options.max_chars):
            ranges = [(start, end)]
        else:
            window = min(options.window, options.max_lines)
            ranges = window_ranges(table, start, end, window, options.overlap, options.max_chars)
        symbol = " > ".join(section.path)
        context = context_for(table, options, section.path[:-1], section.heading)
        chunks.extend(table.chunk(language, "section", symbol, rows, context) for rows in ranges)
    return chunks
