"""Definition chunks of source files parsed with tree-sitter.

Only the top level and the bodies of containers (classes, impls, namespaces …) are
walked; a definition's inside is only visited again when it has to be split. Rows
are 0-based here and become 1-based lines in :class:`~codeweaver.types.Chunk`.

Every non-blank row ends up in a chunk: rows outside definitions form ``module``
chunks (top level) or chunks of their container (class header, fields); rows holding
only closing tokens (``}``, ``end`` …) join the chunk above them. Macros shorter than
three lines stay with the code around them (headers define them by the thousand).
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass

import tree_sitter
from tree_sitter import Node

from codeweaver.core.chunking.languages import (
    CONTAINER_QUALIFYING_KINDS,
    SPECS,
    LanguageSpec,
    grammar,
)
from codeweaver.core.chunking.naming import definition_name, signature
from codeweaver.core.chunking.options import ChunkOptions, LineTable, context_for
from codeweaver.core.chunking.resolve import Definition, resolve
from codeweaver.core.chunking.splitting import split_range
from codeweaver.types import Chunk

__all__ = ["chunk_source"]

_MAX_BOUNDARY_DEPTH = 6
_MAX_DEPTH = 48  # nesting of walked bodies; anything deeper is left to gap chunks
_MACRO_ROWS = 2  # a macro is a definition from three lines on
_CLOSING = frozenset(")]};,")
_CLOSING_WORDS = frozenset({"end", "?>"})
_CLOSING_PREFIXES = ("#endif", "#endregion", "#pragma endregion")
_COMMENT_MARKERS = ("//", "/*", "#")
_local = threading.local()
_CPP_HINTS = re.compile(
    rb"^[ \t]*(?:namespace\b|template\s*<|class\s+\w|(?:public|private|protected)\s*:"
    rb"|using\s+namespace\b|#\s*include\s*<[a-z_]+>)",
    re.MULTILINE,
)


def _parser(language: str) -> tree_sitter.Parser:
    parsers: dict[str, tree_sitter.Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = {}
        _local.parsers = parsers
    parser = parsers.get(language)
    if parser is None:
        parser = tree_sitter.Parser(grammar(language))
        parsers[language] = parser
    return parser


def _end_row(node: Node) -> int:
    """The last row holding part of ``node`` (a trailing newline does not count)."""
    end_row, end_column = node.end_point
    if end_column == 0 and end_row > node.start_point[0]:
        return int(end_row) - 1
    return int(end_row)


@dataclass(slots=True)
class _Piece:
    start: int
    end: int
    kind: str
    symbol: str
    containers: tuple[str, ...]
    signature: str
    split_node: Node
    gap: bool = False


@dataclass(frozen=True, slots=True)
class _Region:
    """A container whose members became chunks of their own."""

    kind: str
    symbol: str
    containers: tuple[str, ...]
    signature: str
    body: Node


@dataclass(frozen=True, slots=True)
class _Scope:
    qualifier: tuple[str, ...] = ()
    containers: tuple[str, ...] = ()
    kind: str = ""

    def enter(self, kind: str, name: str) -> _Scope:
        qualifier = self.qualifier
        if kind in CONTAINER_QUALIFYING_KINDS and name:
            qualifier = (*qualifier, name)
        label = f"{kind} {name}" if name else kind
        return _Scope(qualifier, (*self.containers, label), kind)


class _Lead:
    """Comments/attributes directly above the next definition."""

    __slots__ = ("end", "previous", "start")

    def __init__(self) -> None:
        self.start = -1
        self.end = -2
        self.previous = -1

    def comment(self, start: int, end: int) -> None:
        if start <= self.previous:
            self.start = -1
        elif self.start < 0 or start > self.end + 1:
            self.start = start
        self.end = end

    def start_for(self, row: int) -> int:
        return self.start if self.start >= 0 and self.end >= row - 1 else row

    def code(self, end: int) -> None:
        self.start = -1
        self.previous = end


class _Walker:
    def __init__(self, spec: LanguageSpec, table: LineTable, source: bytes, min_lines: int) -> None:
        self.spec = spec
        self.table = table
        self.source = source
        self.min_lines = min_lines
        self.pieces: list[_Piece] = []
        self.regions: list[_Region] = []
        self.owner: list[int] = [-1] * len(table)
        self.depth = 0

    def walk(self, nodes: list[Node], scope: _Scope) -> None:
        if self.depth >= _MAX_DEPTH:
            return
        self.depth += 1
        try:
            self._walk(nodes, scope)
        finally:
            self.depth -= 1

    def _walk(self, nodes: list[Node], scope: _Scope) -> None:
        spec = self.spec
        lead = _Lead()
        for node in nodes:
            node_type = node.type
            start = node.start_point[0]
            end = _end_row(node)
            if node_type in spec.leading:
                lead.comment(start, end)
                continue
            inner = self._transparent(node, node_type)
            if inner is not None:
                self.walk(inner.named_children, scope)
            else:
                found = resolve(node, spec)
                if found is not None and (found.kind != "macro" or end - start >= _MACRO_ROWS):
                    self._emit(found, lead.start_for(start), end, scope)
                elif node_type in spec.scope_setters:
                    scope = _Scope(
                        scope.qualifier,
                        (*scope.containers, f"namespace {definition_name(node, node)}"),
                        scope.kind,
                    )
            lead.code(end)

    def _transparent(self, node: Node, node_type: str) -> Node | None:
        if node_type == "ERROR":
            return node
        field = self.spec.transparent.get(node_type)
        if field is None:
            return None
        return node.child_by_field_name(field) if field else node

    def _emit(self, found: Definition, start: int, end: int, scope: _Scope) -> None:
        pieces = self.pieces
        if pieces and start <= pieces[-1].end:
            pieces[-1].end = max(pieces[-1].end, end)
            return
        kind = found.kind
        name = found.name
        if kind == "function" and (scope.kind in CONTAINER_QUALIFYING_KINDS or "." in name):
            kind = "method"
        symbol = ".".join((*scope.qualifier, name)) if name else ".".join(scope.qualifier)
        head = signature(self.source, found.signature_start, found.node, found.body)
        if name and name.rsplit(".", 1)[-1] not in head:
            head = f"{head} {name}"
        body = found.body
        if found.container and body is not None and end - start + 1 > self.min_lines:
            self.regions.append(_Region(kind, symbol, scope.containers, head, body))
            self.owner[start : end + 1] = [len(self.regions) - 1] * (end - start + 1)
            self.walk(self._members(found.node, body), scope.enter(kind, name))
            return
        split_node = body if body is not None else found.node
        pieces.append(_Piece(start, end, kind, symbol, scope.containers, head, split_node))

    def _members(self, node: Node, body: Node) -> list[Node]:
        """The body's members, after comments that sit between the header and the body."""
        leading = self.spec.leading
        header_row = node.start_point[0]
        before = [
            child
            for child in node.named_children
            if child.type in leading
            and child.start_byte < body.start_byte
            and child.start_point[0] > header_row
        ]
        return before + body.named_children if before else body.named_children

    def gaps(self, root: Node) -> list[_Piece]:
        """Runs of uncovered non-blank rows, one per container they sit in."""
        table = self.table
        covered = bytearray(len(table))
        for piece in self.pieces:
            covered[piece.start : piece.end + 1] = b"\x01" * (piece.end - piece.start + 1)
        blank = table.blank
        owner = self.owner
        found: list[_Piece] = []
        row = 0
        total = len(table)
        while row < total:
            if covered[row] or blank[row]:
                row += 1
                continue
            first = last = row
            region = owner[row]
            row += 1
            while row < total and not covered[row] and (blank[row] or owner[row] == region):
                if not blank[row]:
                    last = row
                row += 1
            found.append(self._gap(first, last, region, root))
        return found

    def _gap(self, start: int, end: int, region: int, root: Node) -> _Piece:
        if region < 0:
            return _Piece(start, end, "module", "", (), "", root, gap=True)
        r = self.regions[region]
        return _Piece(start, end, r.kind, r.symbol, r.containers, r.signature, r.body, gap=True)


def _closes_only(text: str) -> bool:
    """Whether a stripped line only closes a block (``}``, ``end``, ``});  // ns`` …)."""
    if not text or text.startswith(_CLOSING_PREFIXES):
        return True
    if text[0] in _CLOSING:
        for marker in _COMMENT_MARKERS:
            text = text.split(marker, 1)[0]
        return set(text.strip()) <= _CLOSING
    return text.rstrip(";,") in _CLOSING_WORDS


def _is_trivial(table: LineTable, start: int, end: int) -> bool:
    """Whether rows ``start..end`` only close blocks."""
    lines = table.lines
    return all(_closes_only(lines[row].strip()) for row in range(start, end + 1))


def _attach_trivial(pieces: list[_Piece], table: LineTable) -> list[_Piece]:
    merged: list[_Piece] = []
    for piece in sorted(pieces, key=lambda p: p.start):
        if piece.gap and merged and _is_trivial(table, piece.start, piece.end):
            merged[-1].end = max(merged[-1].end, piece.end)
        else:
            merged.append(piece)
    return merged


def _boundaries(node: Node, low: int, high: int, max_lines: int, depth: int = 0) -> list[int]:
    """Rows where statements inside ``node`` (overlapping ``low..high``) start or end."""
    rows: list[int] = []
    for child in node.named_children:
        start = child.start_point[0]
        if start > high:
            break
        end = _end_row(child)
        if end < low:
            continue
        rows.append(start)
        rows.append(end + 1)
        if end - start + 1 > max_lines and depth < _MAX_BOUNDARY_DEPTH:
            rows.extend(_boundaries(child, low, high, max_lines, depth + 1))
    return rows


def _error_rows(root: Node) -> int:
    """Rows under top-level ``ERROR`` nodes (all rows when the root is one)."""
    if not root.has_error:
        return 0
    if root.type == "ERROR":
        return _end_row(root) + 1
    return sum(
        _end_row(child) - child.start_point[0] + 1
        for child in root.named_children
        if child.type == "ERROR"
    )


def _parse(source: bytes, language: str) -> tuple[Node, str]:
    """The syntax tree, and the grammar that gave it.

    C files (``.h`` in particular) are often C++: with an obvious C++ construct the C++
    grammar parses them; otherwise, when the C parse has errors, the C++ grammar is
    tried too and the tree with fewer error rows wins.
    """
    if language == "c" and _CPP_HINTS.search(source):
        return _parser("cpp").parse(source).root_node, "cpp"
    root = _parser(language).parse(source).root_node
    if language == "c" and root.has_error:
        other = _parser("cpp").parse(source).root_node
        if _error_count(other, "cpp") < _error_count(root, "c"):
            return other, "cpp"
    return root, language


@functools.cache
def _error_query(language: str) -> tree_sitter.Query:
    return tree_sitter.Query(grammar(language), "(ERROR) @error")


def _error_count(root: Node, language: str) -> int:
    """Rows spanned by ``ERROR`` nodes anywhere in the tree (nested ones count again)."""
    if not root.has_error:
        return 0
    captures = tree_sitter.QueryCursor(_error_query(language)).captures(root)
    return sum(_end_row(node) - node.start_point[0] + 1 for node in captures.get("error", []))


def chunk_source(table: LineTable, language: str, options: ChunkOptions) -> list[Chunk] | None:
    """Definition chunks of the file in ``table``, or ``None`` when the parse is unusable
    (mostly ``ERROR`` nodes and not a single definition found).

    Chunks carry ``language`` even when another grammar parsed the file.
    """
    source = "\n".join(table.lines).encode("utf-8", "replace")
    try:
        root, grammar_language = _parse(source, language)
    except Exception:
        return None
    walker = _Walker(SPECS[grammar_language], table, source, options.min_lines)
    walker.walk(root.named_children, _Scope())
    if not walker.pieces and _error_rows(root) * 2 > table.blank.count(False):
        return None
    pieces = _attach_trivial(walker.pieces + walker.gaps(root), table)
    chunks: list[Chunk] = []
    for piece in pieces:
        boundaries = (
            []
            if piece.end - piece.start < options.max_lines
            and table.chars(piece.start, piece.end) <= options.max_chars
            else _boundaries(piece.split_node, piece.start, piece.end, options.max_lines)
        )
        parts = split_range(
            table, piece.start, piece.end, boundaries, options.max_lines, options.max_chars
        )
        context = context_for(table, options, piece.containers, piece.signature)
        for rows in parts:
            chunks.append(table.chunk(language, piece.kind, piece.symbol, rows, context))
    return chunks
