"""Ignore rules with git's semantics, matched in time linear in the path.

Outside git (or with ``index.use_git`` off) discovery applies the ``.gitignore`` files
itself, and everywhere it applies the ``index.exclude`` patterns and the built-in
excludes. A rule is one gitignore line: blank lines and ``#`` comments are skipped, a
leading ``!`` re-includes, ``\\!`` and ``\\#`` are the characters themselves, trailing
spaces go unless escaped, and the glob is ``codeweaver.core.pathglob``'s (which never
backtracks, so a hostile ``*_*_*_*_*q`` costs no more than ``*q``).

As in git: within one list the last matching rule wins; a ``.gitignore`` applies to the
paths below its folder, relative to it, and the deepest file with a matching rule
decides; a path below an ignored folder stays ignored whatever a later ``!`` says. The
configured excludes are a list of their own, relative to the project root, with the
built-in ones last so that no ``!`` re-includes ``.git/``.

What is read is bounded: an ignore file larger than ``MAX_IGNORE_BYTES`` is used up to
that size, at most ``MAX_IGNORE_RULES`` rules apply to any one path and
``MAX_TOTAL_IGNORE_RULES`` are read in one discovery (the rest is left out, with a
warning); a
``.gitignore`` that is a symlink (git does not follow those either) or not a regular file
is not read; a line git would never match (an unclosed ``[``, a lone ``\\`` at the end)
is skipped.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from codeweaver.core.pathglob import EntryGlob, compile_entry_glob
from codeweaver.errors import ConfigError, InputError
from codeweaver.index.confined import read_inside

__all__ = [
    "BUILT_IN_EXCLUDES",
    "IGNORE_FILE",
    "MAX_IGNORE_BYTES",
    "MAX_IGNORE_RULES",
    "MAX_TOTAL_IGNORE_RULES",
    "IgnoreRules",
    "Ignorer",
    "checked_excludes",
    "exclude_rules",
    "parse_rules",
]

IGNORE_FILE = ".gitignore"
BUILT_IN_EXCLUDES = (".git/", ".hg/", ".svn/")
MAX_IGNORE_BYTES = 256 * 1024
"""Bytes of one ignore file that are read (GitHub's largest templates are ~10 KiB)."""
MAX_IGNORE_RULES = 5_000
"""Rules of ignore files that apply to one path (all files along it together)."""
MAX_TOTAL_IGNORE_RULES = 50_000
"""Rules of ignore files read in one discovery."""

log = logging.getLogger("codeweaver.index")


@dataclass(frozen=True, slots=True)
class _Rule:
    glob: EntryGlob
    negated: bool


class IgnoreRules:
    """One ignore file's (or one pattern list's) rules; the last matching rule wins.

    Rules that are a plain name (``node_modules``, ``.env``: most of a typical file) are
    looked up by the entry's name; the others are tried newest first, down to the
    newest plain-name rule that matched."""

    __slots__ = ("_by_name", "_count", "_others")

    def __init__(self, rules: Sequence[_Rule]) -> None:
        self._count = len(rules)
        self._by_name: dict[str, list[tuple[int, _Rule]]] = {}
        others: list[tuple[int, _Rule]] = []
        for index, rule in reversed(list(enumerate(rules))):
            if rule.glob.name is None:
                others.append((index, rule))
            else:
                self._by_name.setdefault(rule.glob.name, []).append((index, rule))
        self._others = tuple(others)

    def __len__(self) -> int:
        return self._count

    def verdict(self, parts: list[str], is_dir: bool) -> bool | None:
        """True: ignored, False: re-included, None: no rule matches the entry."""
        newest, found = -1, None
        for index, rule in self._by_name.get(parts[-1], ()):
            if is_dir or not rule.glob.directory_only:
                newest, found = index, rule
                break
        for index, rule in self._others:
            if index < newest:
                break
            if rule.glob.match(parts, is_dir):
                found = rule
                break
        return None if found is None else not found.negated


def _trim_trailing_spaces(line: str) -> str:
    """git's rule: unescaped trailing spaces go (tabs and escaped spaces stay)."""
    end = len(line)
    while end and line[end - 1] == " ":
        slashes = 0
        while slashes < end - 1 and line[end - 2 - slashes] == "\\":
            slashes += 1
        if slashes % 2:  # the space is escaped
            break
        end -= 1
    return line[:end]


def _line_rule(line: str) -> tuple[str, bool] | None:
    """The glob and whether it re-includes, or None for a blank line or a comment."""
    line = line.removesuffix("\r")
    if not line or line.startswith("#"):
        return None
    line = _trim_trailing_spaces(line)
    negated = line.startswith("!")
    glob = line[1:] if negated else line
    return (glob, negated) if glob else None


def parse_rules(
    lines: Iterable[str], *, source: str, strict: bool = False, limit: int = MAX_IGNORE_RULES
) -> IgnoreRules:
    """Compile gitignore lines. ``strict``: a bad line is an InputError naming ``source``;
    else it is skipped (git never matches it) and at most ``limit`` rules are kept."""
    rules: list[_Rule] = []
    for number, line in enumerate(lines, 1):
        parsed = _line_rule(line)
        if parsed is None:
            continue
        if not strict and len(rules) >= limit:
            log.warning("%s: only the first %d rules are used", source, limit)
            break
        try:
            rules.append(_Rule(compile_entry_glob(parsed[0]), parsed[1]))
        except InputError as exc:
            if strict:
                raise InputError(f"{source}: {exc}" if source else str(exc)) from exc
            log.info("%s:%d: rule skipped (%s)", source, number, exc)
    return IgnoreRules(rules)


def exclude_rules(patterns: Sequence[str], source: str = "index.exclude") -> IgnoreRules:
    """The configured ``index.exclude`` patterns, then the built-in excludes; a bad
    pattern is a one-line InputError (naming ``source``)."""
    return parse_rules([*patterns, *BUILT_IN_EXCLUDES], source=source, strict=True)


def _read_lines(root: Path, rel: str) -> list[str] | None:
    """The lines of the ignore file ``root/rel``, read only up to the bounds."""
    try:
        st = os.lstat(root / rel)
        if not stat.S_ISREG(st.st_mode):
            return None  # a symlink (git does not follow it), a FIFO, a folder …
        data = read_inside(root, rel, MAX_IGNORE_BYTES, truncate=True)
    except (OSError, ValueError):
        return None
    lines = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff").split("\n")
    if st.st_size > MAX_IGNORE_BYTES:
        log.warning("%s: larger than %d bytes, only its start is used", rel, MAX_IGNORE_BYTES)
        lines.pop()  # the cut-off line
    return lines


@dataclass(frozen=True, slots=True)
class _Chain:
    """The ignore files that apply below one folder, shallowest first, and their rules."""

    files: tuple[tuple[int, IgnoreRules], ...] = ()  # (depth of the file's folder, rules)
    rules: int = 0


class Ignorer:
    """Whether discovery skips a path: the excludes (``None``: none, not even the built-in
    ones) and, with ``gitignore``, the ``.gitignore`` files under ``root``, each read once.

    At most ``MAX_IGNORE_RULES`` rules apply to any one path (a deeper file gets what its
    ancestors left) and ``MAX_TOTAL_IGNORE_RULES`` are read in all: a hostile tree cannot
    make each path cost more than that, nor fill memory with compiled rules."""

    def __init__(self, root: Path, excludes: IgnoreRules | None, *, gitignore: bool = True) -> None:
        self._root = root
        self._excludes = excludes
        self._gitignore = gitignore
        self._chains: dict[str, _Chain] = {}
        self._folders: dict[str, bool] = {}
        self._total = 0

    def skips(self, rel: str, is_dir: bool) -> bool:
        """``rel`` (project-relative, posix) or a folder above it is ignored."""
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            if self._folder_skipped(parts[:depth]):
                return True
        return self.skips_entry(parts, is_dir)

    def skips_entry(self, parts: list[str], is_dir: bool) -> bool:
        """The entry itself is ignored (the folders above it are known not to be)."""
        if self._excludes is not None and self._excludes.verdict(parts, is_dir):
            return True
        if not self._gitignore:
            return False
        for depth, rules in reversed(self._chain(parts[:-1]).files):  # the deepest match wins
            verdict = rules.verdict(parts[depth:], is_dir)
            if verdict is not None:
                return verdict
        return False

    def _folder_skipped(self, parts: list[str]) -> bool:
        key = "/".join(parts)
        found = self._folders.get(key)
        if found is None:
            found = self._folders[key] = self.skips_entry(parts, True)
        return found

    def _chain(self, folder: list[str]) -> _Chain:
        """The ignore files applying inside ``folder``, read top-down on first use."""
        found = self._chains.get("/".join(folder))
        if found is not None:
            return found
        keys = ["/".join(folder[:depth]) for depth in range(len(folder) + 1)]
        known = len(keys) - 1
        while known >= 0 and keys[known] not in self._chains:
            known -= 1
        chain = self._chains[keys[known]] if known >= 0 else _Chain()
        for depth in range(known + 1, len(keys)):
            chain = self._chains[keys[depth]] = self._extend(chain, depth, keys[depth])
        return chain

    def _extend(self, chain: _Chain, depth: int, rel_dir: str) -> _Chain:
        rel = f"{rel_dir}/{IGNORE_FILE}" if rel_dir else IGNORE_FILE
        lines = _read_lines(self._root, rel)
        if lines is None:
            return chain
        if self._total >= MAX_TOTAL_IGNORE_RULES:
            log.warning("%s: not read, %d ignore rules were read already", rel, self._total)
            return chain
        if chain.rules >= MAX_IGNORE_RULES:
            log.warning("%s: not read, the ignore files above it hold enough rules", rel)
            return chain
        room = min(MAX_IGNORE_RULES - chain.rules, MAX_TOTAL_IGNORE_RULES - self._total)
        rules = parse_rules(lines, source=rel, limit=room)
        self._total += len(rules)
        return _Chain((*chain.files, (depth, rules)), chain.rules + len(rules))


def checked_excludes(patterns: list[str]) -> tuple[str, ...]:
    """``index.exclude`` as compiled once here: a bad pattern stops the start-up."""
    try:
        exclude_rules(patterns, source="")
    except InputError as exc:
        raise ConfigError(
            f"invalid setting 'index.exclude' (CODEWEAVER_INDEX__EXCLUDE): {exc}"
        ) from None
    return tuple(patterns)
