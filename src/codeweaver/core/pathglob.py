"""Gitignore-style path globs, matched without backtracking.

A glob is one gitignore line: ``*`` and ``?`` stay inside a path component, ``[...]``
is one character of a set (``[!...]``/``[^...]`` negated), ``\\`` escapes, ``**`` as a
whole component spans any number of directories (one or more at the end), a glob
without an inner ``/`` matches at any depth, a leading ``/`` anchors it to the root, a
trailing ``/`` matches directories only, and a glob that matches a directory matches
every file below it.

Matching never backtracks: a component glob is split at its stars into fixed-width
pieces found left to right (the leftmost place of each piece is always a right one),
and a path glob is split at its ``**`` components into runs of component globs found
the same way. Time grows with the pattern's length times the path's, never with the
number of stars.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from codeweaver.errors import InputError

__all__ = ["MAX_GLOB_CHARS", "PathGlob", "compile_glob"]

MAX_GLOB_CHARS = 500
"""Longest accepted path glob: the one bound the HTTP API, MCP and the CLI share."""

_GLOBSTAR = "**"
_REMEMBERED = 4096  # component answers kept per component glob

ComponentMatcher = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class PathGlob:
    """A compiled glob; ``match(path)`` takes a project-relative POSIX path."""

    pattern: str
    _match: Callable[[list[str]], bool]

    def match(self, path: str) -> bool:
        return self._match(path.split("/"))


def compile_glob(pattern: str) -> PathGlob:
    """Compile one gitignore-style glob; a bad or empty one is an InputError."""
    if len(pattern) > MAX_GLOB_CHARS:
        raise InputError(f"path glob is longer than {MAX_GLOB_CHARS} characters")
    text = pattern if pattern.endswith("\\ ") else pattern.rstrip()
    _refuse_no_op(pattern, text)
    segments = text.split("/")
    directory_only = segments[-1] == ""
    segments = _normalize(segments)
    return PathGlob(pattern, _build(pattern, segments, directory_only))


def _refuse_no_op(pattern: str, text: str) -> None:
    """Lines gitignore reads as no pattern at all would silently select nothing."""
    if not text or text == "/":
        raise InputError(f"invalid path glob {pattern!r}: it selects no path")
    if text[0] in "#!":
        raise InputError(
            f"invalid path glob {pattern!r}: a leading {text[0]!r} is not supported "
            f"(write '\\{text[0]}' for the character itself)"
        )


def _normalize(segments: list[str]) -> list[str]:
    """Anchor at the root, ``**`` for a bare name and for a trailing ``/``; no ``**/**``."""
    bare_name = len(segments) == 1 or (len(segments) == 2 and segments[1] == "")
    if segments[0] == "":
        segments = segments[1:]
    elif bare_name and segments[0] != _GLOBSTAR:
        segments = [_GLOBSTAR, *segments]
    if segments[-1] == "":
        segments[-1] = _GLOBSTAR
    out: list[str] = []
    for seg in segments:
        if not (seg == _GLOBSTAR and out and out[-1] == _GLOBSTAR):
            out.append(seg)
    return out


def _build(pattern: str, segments: list[str], directory_only: bool) -> Callable[[list[str]], bool]:
    if segments == [_GLOBSTAR]:  # "**" selects everything, "**/" what is below the root
        return (lambda parts: len(parts) > 1) if directory_only else (lambda parts: True)
    floating = segments[0] == _GLOBSTAR
    needs_below = len(segments) > 1 and segments[-1] == _GLOBSTAR
    body = segments[1 if floating else 0 : -1 if needs_below else None]
    runs: list[list[ComponentMatcher]] = [[]]
    for seg in body:
        if seg == _GLOBSTAR:
            runs.append([])
        else:
            runs[-1].append(_component(pattern, seg))
    return _SequenceMatcher(runs, floating, needs_below).match


class _SequenceMatcher:
    """Runs of component globs separated by ``**``; the path may go on below the last."""

    __slots__ = ("_floating", "_needs_below", "_runs")

    def __init__(
        self, runs: list[list[ComponentMatcher]], floating: bool, needs_below: bool
    ) -> None:
        self._runs = runs
        self._floating = floating
        self._needs_below = needs_below

    def match(self, parts: list[str]) -> bool:
        limit = len(parts) - 1 if self._needs_below else len(parts)
        pos = 0
        for i, run in enumerate(self._runs):
            anchored = i == 0 and not self._floating
            found = _find_run(run, parts, pos, limit, anchored)
            if found < 0:
                return False
            pos = found + len(run)
        return True


def _find_run(
    run: list[ComponentMatcher], parts: list[str], pos: int, limit: int, anchored: bool
) -> int:
    """The first start >= pos where ``run`` matches whole components ending by ``limit``."""
    last = limit - len(run)
    stop = (min(pos, last) if anchored else last) + 1
    if len(run) == 1:
        only = run[0]
        for start in range(pos, stop):
            if only(parts[start]):
                return start
        return -1
    for start in range(pos, stop):
        if all(m(parts[start + k]) for k, m in enumerate(run)):
            return start
    return -1


def _component(pattern: str, seg: str) -> ComponentMatcher:
    """A matcher of one whole path component against the component glob ``seg``."""
    pieces = [_piece(pattern, piece) for piece in _split_stars(pattern, seg)]
    if len(pieces) == 1 and isinstance(pieces[0], _Literal):
        return pieces[0].whole
    return _Remembered(pieces[0].whole if len(pieces) == 1 else _StarMatcher(pieces))


class _Remembered:
    """Directory names repeat across a project's paths: remember recent answers."""

    __slots__ = ("_answers", "_match")

    def __init__(self, match: ComponentMatcher) -> None:
        self._match = match
        self._answers: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        answer = self._answers.get(name)
        if answer is None:
            if len(self._answers) >= _REMEMBERED:
                self._answers.clear()
            answer = self._answers[name] = self._match(name)
        return answer


class _Literal:
    """A star-free piece without wildcards: plain string operations."""

    __slots__ = ("_text", "width")

    def __init__(self, text: str) -> None:
        self._text = text
        self.width = len(text)

    def whole(self, name: str) -> bool:
        return name == self._text

    def find(self, name: str, pos: int) -> int:
        """The end of the leftmost occurrence at or after ``pos`` (-1: none)."""
        found = name.find(self._text, pos)
        return -1 if found < 0 else found + self.width

    def at(self, name: str, pos: int) -> bool:
        return name.startswith(self._text, pos)


class _Wild:
    """A star-free piece with ``?`` or sets: a fixed-width regex."""

    __slots__ = ("_regex", "width")

    def __init__(self, regex: re.Pattern[str], width: int) -> None:
        self._regex = regex
        self.width = width

    def whole(self, name: str) -> bool:
        return self._regex.fullmatch(name) is not None

    def find(self, name: str, pos: int) -> int:
        found = self._regex.search(name, pos)
        return -1 if found is None else found.end()

    def at(self, name: str, pos: int) -> bool:
        return self._regex.match(name, pos) is not None


class _StarMatcher:
    """``first * middle… * last``: first at the start, last at the end, the middle ones
    each at its leftmost place in between (every piece has a fixed width)."""

    __slots__ = ("_first", "_last", "_middle")

    def __init__(self, pieces: list[_Literal | _Wild]) -> None:
        self._first, *self._middle, self._last = pieces

    def __call__(self, name: str) -> bool:
        if not self._first.at(name, 0):
            return False
        pos = self._first.width
        for piece in self._middle:
            pos = piece.find(name, pos)
            if pos < 0:
                return False
        start = len(name) - self._last.width
        return start >= pos and self._last.at(name, start)


def _split_stars(pattern: str, seg: str) -> list[str]:
    """``seg`` cut at its unescaped, unbracketed star runs (pieces keep their escapes)."""
    pieces, current, i = [], "", 0
    while i < len(seg):
        char = seg[i]
        if char == "\\":
            if i + 1 == len(seg):
                raise InputError(f"invalid path glob {pattern!r}: it ends with a lone '\\'")
            current += seg[i : i + 2]
            i += 2
        elif char == "[":
            end = _bracket_end(seg, i + 1)
            if end < 0:
                raise InputError(f"invalid path glob {pattern!r}: '[' is never closed")
            current += seg[i:end]
            i = end
        elif char == "*":
            pieces.append(current)
            current = ""
            while i < len(seg) and seg[i] == "*":
                i += 1
        else:
            current += char
            i += 1
    pieces.append(current)
    return pieces


def _bracket_end(seg: str, i: int) -> int:
    """One past the ``]`` closing a set opened just before ``i`` (-1: never closed)."""
    if i < len(seg) and seg[i] in "!^":
        i += 1
    if i < len(seg) and seg[i] == "]":
        i += 1
    end = seg.find("]", i)
    return -1 if end < 0 else end + 1


def _piece(pattern: str, piece: str) -> _Literal | _Wild:
    """A star-free piece (escapes, ``?``, ``[...]`` sets) as a fixed-width matcher."""
    out, literal, i = [], "", 0
    wild = False
    while i < len(piece):
        char = piece[i]
        if char == "\\":
            char = piece[i + 1]
            i += 1
        elif char == "?":
            out.append("[^/]")
            wild, i = True, i + 1
            continue
        elif char == "[":
            end = _bracket_end(piece, i + 1)
            out.append(_set_regex(piece[i + 1 : end - 1]))
            wild, i = True, end
            continue
        out.append(re.escape(char))
        literal += char
        i += 1
    if not wild:
        return _Literal(literal)
    try:
        return _Wild(re.compile("".join(out), re.DOTALL), len(out))
    except re.error as exc:
        raise InputError(f"invalid path glob {pattern!r}: {exc}") from exc


def _set_regex(body: str) -> str:
    """A regex set for a glob set's body; ranges kept, every other character literal."""
    negate = body[:1] in ("!", "^")
    chars = body[1:] if negate else body
    items, j = [], 0
    while j < len(chars):
        if j + 2 < len(chars) and chars[j + 1] == "-":
            items.append(f"{re.escape(chars[j])}-{re.escape(chars[j + 2])}")
            j += 3
        else:
            items.append(re.escape(chars[j]))
            j += 1
    return "[" + ("^" if negate else "") + "".join(items) + "]"
