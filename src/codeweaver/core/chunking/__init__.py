"""Cutting files into searchable chunks.

* Code in a language with a tree-sitter grammar (see ``TREE_SITTER_LANGUAGES``) is cut
  at definitions: one chunk per function, method, class header, … with its qualified
  symbol (``Server.start``); code between definitions forms ``module`` chunks.
* Markdown is cut at headings (kind ``section``, symbol = heading path).
* Anything else, and code whose parse is mostly errors, is cut into line windows.

Every chunk's ``content`` is exactly lines ``start_line..end_line`` of the file (with
``\\r\\n`` read as ``\\n``), and every non-blank line is in at least one chunk.
``content_hash`` is the first 16 bytes (32 hex digits) of the SHA-256 of the content.
Bad input inside a file (syntax errors, odd characters) never raises.
"""

from __future__ import annotations

from codeweaver.core.chunking.languages import (
    SUPPORTED_LANGUAGES,
    TREE_SITTER_LANGUAGES,
    detect_language,
)
from codeweaver.core.chunking.lines import chunk_lines
from codeweaver.core.chunking.markdown import chunk_markdown
from codeweaver.core.chunking.options import (
    ChunkOptions,
    ContextOptions,
    LineTable,
    build_context,
)
from codeweaver.core.chunking.treesitter import chunk_source
from codeweaver.types import Chunk

__all__ = [
    "SUPPORTED_LANGUAGES",
    "TREE_SITTER_LANGUAGES",
    "ChunkOptions",
    "ContextOptions",
    "build_context",
    "chunk_file",
    "detect_language",
]

_DEFAULT_OPTIONS = ChunkOptions()


def chunk_file(
    path: str,
    text: str,
    *,
    language: str | None = None,
    options: ChunkOptions | None = None,
) -> list[Chunk]:
    """The chunks of one file, in line order.

    ``path`` is the project-relative posix path (it is stored on every chunk and shown
    in the context header); ``language`` defaults to :func:`detect_language` of the
    path, and to ``"text"`` when that is unknown. An empty or blank file has no chunks.
    """
    options = options or _DEFAULT_OPTIONS
    language = language or detect_language(path) or "text"
    if not text.strip():
        return []
    table = LineTable(path, text.replace("\r\n", "\n"))
    if language in TREE_SITTER_LANGUAGES:
        chunks = chunk_source(table, language, options)
        if chunks is not None:
            return chunks
        return chunk_lines(table, language, options, kind="module")
    if language == "markdown":
        return chunk_markdown(table, language, options)
    return chunk_lines(table, language, options)
