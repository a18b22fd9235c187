"""Server-side syntax highlighting with Pygments: source text in, one HTML fragment per
line out (``<span class="k">`` tokens, every character escaped), so the page never
parses code itself and needs no inline styles (the colours live in ``style.css``)."""

from __future__ import annotations

import re
from functools import lru_cache

from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.lexers.special import TextLexer
from pygments.util import ClassNotFound

__all__ = ["HIGHLIGHT_CONTEXT", "MAX_HIGHLIGHT_CHARS", "highlight_lines"]

HIGHLIGHT_CONTEXT = 100  # lines lexed before a file window, for strings/comments opened above it

MAX_HIGHLIGHT_CHARS = 2_000_000  # past this, plain escaped text: highlighting is linear anyway
CACHED = 64  # highlighted texts kept (a file window is at most 2,000 lines): repeat views
_ALIASES = {"c_sharp": "csharp", "tsx": "tsx", "typescript": "typescript", "text": "text"}


@lru_cache(maxsize=64)
def _lexer(language: str) -> Lexer:
    name = _ALIASES.get(language, language)
    try:
        lexer: Lexer = get_lexer_by_name(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False, ensurenl=False)
    return lexer


_FORMATTER = HtmlFormatter(nowrap=True, classprefix="tok-")
_WHITESPACE = re.compile(r'<span class="tok-w">([ \t]*)</span>')  # unstyled: plain text


def highlight_lines(code: str, language: str | None, context: str = "") -> list[str]:
    """``code`` as HTML, split at its newlines: ``len(result) == code.count("\\n") + 1``
    (a trailing newline gives a last, empty line, as ``str.split`` does). Pygments takes
    ~0.15 ms a line, so the last ``CACHED`` answers are kept for the views people repeat.
    ``context`` (the lines just before ``code``) is lexed first and dropped, so a window
    that starts inside a multi-line string or comment is mostly coloured right."""
    if not context:
        return list(_highlight(code, (language or "text").lower()))
    lead = context.count("\n") + 1
    return list(_highlight(context + "\n" + code, (language or "text").lower())[lead:])


@lru_cache(maxsize=CACHED)
def _highlight(code: str, language: str) -> tuple[str, ...]:
    from pygments import highlight

    lexer = _lexer(language)
    if len(code) > MAX_HIGHLIGHT_CHARS:
        lexer = TextLexer(stripnl=False, ensurenl=False)
    html = highlight(code, lexer, _FORMATTER)
    if not code.endswith("\n") and html.endswith("\n"):
        html = html[:-1]  # Pygments ends the last token with a newline of its own
    return tuple(_WHITESPACE.sub(r"\1", line) for line in _close_per_line(html.split("\n")))


def _close_per_line(lines: list[str]) -> list[str]:
    """Pygments keeps a span open across newlines (docstrings, comments): close it at the
    end of each line and reopen it on the next, so every line is well-formed HTML."""
    out: list[str] = []
    carry: list[str] = []
    for line in lines:
        opened = list(carry)
        pos = 0
        while True:
            start = line.find("<span", pos)
            end = line.find("</span>", pos)
            if start == -1 and end == -1:
                break
            if start != -1 and (end == -1 or start < end):
                close = line.index(">", start)
                opened.append(line[start : close + 1])
                pos = close + 1
            else:
                if opened:
                    opened.pop()
                pos = end + len("</span>")
        out.append("".join(carry) + line + "</span>" * len(opened))
        carry = opened
    return out
