"""Server-side highlighting of the web page: one escaped, well-formed fragment per line."""

from __future__ import annotations

import re
from html import unescape

import pytest

from codeweaver.api.web.highlight import highlight_lines

SOURCE = 'def f(x):\n    """Doc <b>\n    more & more"""\n    return x < 2\n'


def _text(fragment: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", fragment))


@pytest.mark.parametrize("language", ["python", "no-such-language", None])
def test_one_fragment_per_line_with_the_same_text(language: str | None) -> None:
    lines = highlight_lines(SOURCE, language)
    assert len(lines) == len(SOURCE.split("\n"))
    assert [_text(line) for line in lines] == SOURCE.split("\n")


def test_source_is_escaped() -> None:
    html = "".join(highlight_lines("x = '<script>alert(1)</script>'", "python"))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_spans_are_closed_on_every_line() -> None:
    for line in highlight_lines(SOURCE, "python"):
        assert line.count("<span") == line.count("</span>")
    assert 'class="tok-k"' in highlight_lines(SOURCE, "python")[0]


def test_no_trailing_newline_keeps_the_line_count() -> None:
    assert len(highlight_lines("a = 1\nb = 2", "python")) == 2
    assert highlight_lines("", "python") == [""]


def test_context_above_a_window_colours_a_string_opened_there() -> None:
    context = 'x = 1\nDOC = """start of a long string'
    window = 'def not_code():\n    end"""\ny = 2'
    alone = highlight_lines(window, "python")
    lexed = highlight_lines(window, "python", context)
    assert len(lexed) == len(alone) == 3
    assert "tok-k" in alone[0]  # without context, ``def`` reads as a keyword
    assert "tok-k" not in lexed[0] and "tok-s" in lexed[0]  # with it, as string text
    assert [unescape(re.sub(r"<[^>]+>", "", line)) for line in lexed] == window.split("\n")
