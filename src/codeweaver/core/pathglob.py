"""Gitignore-style path globs, matched without backtracking.

A glob is one gitignore line: ``*`` and ``?`` stay inside a path component, ``[...]``
is one character of a set as git reads it (``[!...]``/``[^...]`` negated, ranges,
``[:alpha:]`` classes, ``\\`` escapes, a first ``]`` a member), ``\\`` escapes, ``**`` as a
whole component spans any number of directories (one or more at the end), a glob
without an inner ``/`` matches at any depth, a leading ``/`` anchors it to the root, a
trailing ``/`` matches directories only, and a glob that matches a directory matches
every file below it.

``compile_entry_glob`` compiles the same globs for ignore rules (``codeweaver.index.ignore``):
there a glob matches one entry exactly (a file, or a directory with ``is_dir``), what
lies below a matched directory is the rule's business, not the glob's, and a component
of three or more stars is ``**`` as in git.

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

__all__ = [
    "MAX_ENTRY_GLOB_CHARS",
    "MAX_GLOB_CHARS",
    "EntryGlob",
    "PathGlob",
    "compile_entry_glob",
    "compile_glob",
]

MAX_GLOB_CHARS = 500
"""Longest accepted path glob: the one bound the HTTP API, MCP and the CLI share."""
MAX_ENTRY_GLOB_CHARS = 4096
"""Longest accepted ignore-rule glob (a path, at most PATH_MAX)."""

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


@dataclass(frozen=True, slots=True)
class EntryGlob:
    """A compiled ignore-rule glob; ``match(parts, is_dir)`` takes the components of one
    entry's path (relative to the ignore file's folder) and matches that entry exactly."""

    pattern: str
    directory_only: bool
    _match: Callable[[list[str]], bool]
    name: str | None = None  # the one name it matches at any depth, if it is that simple

    def match(self, parts: list[str], is_dir: bool) -> bool:
        return (is_dir or not self.directory_only) and self._match(parts)


def compile_glob(pattern: str) -> PathGlob:
    """Compile one gitignore-style glob; a bad or empty one is an InputError."""
    if len(pattern) > MAX_GLOB_CHARS:
        raise InputError(f"path glob is longer than {MAX_GLOB_CHARS} characters")
    text = pattern if pattern.endswith("\\ ") else pattern.rstrip()
    _refuse_no_op(pattern, text)
    segments = text.split("/")
    directory_only = segments[-1] == ""
    segments = _normalize(segments, exact=False)
    return PathGlob(pattern, _build(pattern, segments, directory_only, exact=False))


def compile_entry_glob(pattern: str) -> EntryGlob:
    """Compile the glob of one ignore rule, taken as it is (the caller has removed the
    comment, the ``!`` and the trailing spaces); a bad or empty one is an InputError."""
    if len(pattern) > MAX_ENTRY_GLOB_CHARS:
        raise InputError(f"ignore pattern is longer than {MAX_ENTRY_GLOB_CHARS} characters")
    segments = pattern.split("/")
    directory_only = segments[-1] == ""
    segments = _normalize(segments, exact=True)
    if not segments:
        raise InputError(f"invalid path glob {pattern!r}: it selects no path")
    match = _build(pattern, segments, False, exact=True)
    return EntryGlob(pattern, directory_only, match, _plain_name(pattern, segments))


def _plain_name(pattern: str, segments: list[str]) -> str | None:
    """The name a ``**/name`` glob without wildcards matches (escapes resolved)."""
    if len(segments) != 2 or segments[0] != _GLOBSTAR or segments[1] == _GLOBSTAR:
        return None
    pieces = _split_stars(pattern, segments[1])
    piece = _piece(pattern, pieces[0]) if len(pieces) == 1 else None
    return piece.text if isinstance(piece, _Literal) else None


def _refuse_no_op(pattern: str, text: str) -> None:
    """Lines gitignore reads as no pattern at all would silently select nothing."""
    if not text or text == "/":
        raise InputError(f"invalid path glob {pattern!r}: it selects no path")
    if text[0] in "#!":
        raise InputError(
            f"invalid path glob {pattern!r}: a leading {text[0]!r} is not supported "
            f"(write '\\{text[0]}' for the character itself)"
        )


def _normalize(segments: list[str], exact: bool) -> list[str]:
    """Anchor at the root, ``**`` for a bare name and (not ``exact``) for a trailing ``/``,
    which ``exact`` drops; no ``**/**``."""
    bare_name = len(segments) == 1 or (len(segments) == 2 and segments[1] == "")
    if exact:  # git reads "***" between slashes as "**" (the path filter as "*")
        segments = [_GLOBSTAR if len(seg) > 1 and not seg.strip("*") else seg for seg in segments]
    if segments[0] == "":
        segments = segments[1:]
    elif bare_name and segments[0] != _GLOBSTAR:
        segments = [_GLOBSTAR, *segments]
    if segments and segments[-1] == "":
        segments = segments[:-1] if exact else [*segments[:-1], _GLOBSTAR]
    out: list[str] = []
    for seg in segments:
        if not (seg == _GLOBSTAR and out and out[-1] == _GLOBSTAR):
            out.append(seg)
    return out


def _build(
    pattern: str, segments: list[str], directory_only: bool, exact: bool
) -> Callable[[list[str]], bool]:
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
            runs[-1].append(_component(pattern, seg, remember=not exact))
    if exact and not needs_below and len(runs) == 1 and len(runs[0]) == 1:  # one name
        only = runs[0][0]
        if floating:
            return lambda parts: only(parts[-1])
        return lambda parts: len(parts) == 1 and only(parts[0])
    return _SequenceMatcher(runs, floating, needs_below, exact and not needs_below).match


class _SequenceMatcher:
    """Runs of component globs separated by ``**``; unless ``to_end``, the path may go on
    below the last (with ``to_end`` the last run is the path's end)."""

    __slots__ = ("_floating", "_needs_below", "_runs", "_to_end")

    def __init__(
        self,
        runs: list[list[ComponentMatcher]],
        floating: bool,
        needs_below: bool,
        to_end: bool,
    ) -> None:
        self._runs = runs
        self._floating = floating
        self._needs_below = needs_below
        self._to_end = to_end

    def match(self, parts: list[str]) -> bool:
        limit = len(parts) - 1 if self._needs_below else len(parts)
        pos = 0
        last = len(self._runs) - 1
        for i, run in enumerate(self._runs):
            anchored = i == 0 and not self._floating
            if i == last and self._to_end:  # the end is fixed: one place to try
                start = limit - len(run)
                fits = start == pos if anchored else start >= pos
                return fits and all(m(parts[start + k]) for k, m in enumerate(run))
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


def _component(pattern: str, seg: str, remember: bool) -> ComponentMatcher:
    """A matcher of one whole path component against the component glob ``seg``; with
    ``remember`` it keeps recent answers (ignore rules see each name once: they do not)."""
    pieces = [_piece(pattern, piece) for piece in _split_stars(pattern, seg)]
    if len(pieces) == 1 and isinstance(pieces[0], _Literal):
        return pieces[0].whole
    match = pieces[0].whole if len(pieces) == 1 else _StarMatcher(pieces)
    return _Remembered(match) if remember else match


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

    @property
    def text(self) -> str:
        return self._text

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
            end = _parse_set(pattern, seg, i + 1)[0]
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
            i, regex = _parse_set(pattern, piece, i + 1)
            out.append(regex)
            wild = True
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


_CLASSES = {  # git's [:name:] classes (ASCII, as git's own ctype)
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z",
    "xdigit": "0-9A-Fa-f",
}


def _parse_set(pattern: str, seg: str, i: int) -> tuple[int, str]:
    """The set opened just before ``seg[i]``, read as git reads it (a first ``]`` is a
    member, ``\\`` escapes, ``a-z`` ranges, ``[:alpha:]`` classes): one past its closing
    ``]``, and the equivalent regex set."""
    negate = seg[i : i + 1] in ("!", "^")
    start = i = i + negate
    items: list[str] = []
    prev: str | None = None  # the character a following "-" ranges from
    while i < len(seg) and (seg[i] != "]" or i == start):
        i, item, prev = _set_item(pattern, seg, i, prev)
        items.append(item)
    if i >= len(seg):
        raise InputError(f"invalid path glob {pattern!r}: '[' is never closed")
    return i + 1, "[" + ("^" if negate else "") + "".join(items) + "]"


def _set_item(pattern: str, seg: str, i: int, prev: str | None) -> tuple[int, str, str | None]:
    """The set member at ``seg[i]``: the index after it, its regex, what it may range from."""
    char = seg[i]
    if char == "\\":
        char = _set_char(pattern, seg, i + 1)
        return i + 2, re.escape(char), char
    if char == "-" and prev is not None and i + 1 < len(seg) and seg[i + 1] != "]":
        escaped = seg[i + 1] == "\\"
        high = _set_char(pattern, seg, i + 1 + escaped)
        return i + 2 + escaped, f"{re.escape(prev)}-{re.escape(high)}", None
    if seg.startswith("[:", i):
        named = _char_class(pattern, seg, i)
        if named is not None:
            return named[0], named[1], None
    return i + 1, re.escape(char), char


def _set_char(pattern: str, seg: str, i: int) -> str:
    if i >= len(seg):
        raise InputError(f"invalid path glob {pattern!r}: '[' is never closed")
    return seg[i]


def _char_class(pattern: str, seg: str, i: int) -> tuple[int, str] | None:
    """``[:name:]`` at ``seg[i]``: one past it and its ranges; None: the ``[`` is a member."""
    end = seg.find("]", i + 2)
    if end < 0:
        raise InputError(f"invalid path glob {pattern!r}: '[' is never closed")
    if end < i + 3 or seg[end - 1] != ":":
        return None
    name = seg[i + 2 : end - 1]
    if name not in _CLASSES:
        raise InputError(f"invalid path glob {pattern!r}: no character class [:{name}:]")
    return end + 1, _CLASSES[name]
