"""The runbook knowledge base: Markdown articles shipped in ``codeweaver/support/articles``.

Each article has a title (``# …``), a ``Tags:`` line and the sections Symptoms, Diagnostic
steps, Root-cause analysis, Resolution and Prevention. Search runs through CodeWeaver's own
hybrid engine over a dedicated project; ``rank_articles`` turns chunk hits into articles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

from codeweaver.errors import ConfigError, NotFoundError
from codeweaver.types import Hit

__all__ = [
    "KB_PROJECT",
    "SECTIONS",
    "Article",
    "KbHit",
    "article",
    "articles",
    "kb_dir",
    "rank_articles",
]

KB_PROJECT = "runbooks"
SECTIONS = ("Symptoms", "Diagnostic steps", "Root-cause analysis", "Resolution", "Prevention")
_HEADING = re.compile(r"^##\s+(.+?)\s*$", re.M)


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    title: str
    tags: tuple[str, ...]
    text: str

    def sections(self) -> dict[str, str]:
        parts = _HEADING.split(self.text)
        return {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


@dataclass(frozen=True, slots=True)
class KbHit:
    article: Article
    score: float
    snippet: str


def kb_dir() -> Path:
    """The folder holding the shipped articles (the package must be on a file system)."""
    folder = resources.files("codeweaver.support") / "articles"
    path = Path(str(folder))
    if not path.is_dir():
        raise ConfigError(f"the knowledge base folder {path} is missing from the installation")
    return path


def _load(path: Path) -> Article:
    text = path.read_text(encoding="utf-8")
    title = next((ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")), path.stem)
    tags_line = next((ln for ln in text.splitlines() if ln.startswith("Tags:")), "Tags:")
    tags = tuple(t.strip() for t in tags_line[5:].split(",") if t.strip())
    return Article(path.stem, title, tags, text)


def articles() -> list[Article]:
    return [_load(p) for p in sorted(kb_dir().glob("*.md"))]


def article(article_id: str) -> Article:
    """The article named ``article_id``: a name from the shipped list, never a path."""
    known = {p.stem: p for p in sorted(kb_dir().glob("*.md"))}
    if article_id not in known:
        names = ", ".join(known)
        raise NotFoundError(f"no knowledge-base article {article_id!r} (known: {names})")
    return _load(known[article_id])


def rank_articles(hits: Iterable[Hit], limit: int = 5) -> list[KbHit]:
    """One entry per article, in the order of its best-ranked chunk."""
    by_id = {a.id: a for a in articles()}
    out: list[KbHit] = []
    seen: set[str] = set()
    for hit in hits:
        art_id = PurePosixPath(hit.path).stem
        if art_id in seen or art_id not in by_id:
            continue
        seen.add(art_id)
        snippet = " ".join(hit.snippet.split())
        out.append(KbHit(by_id[art_id], hit.score, snippet[:200]))
        if len(out) >= limit:
            break
    return out
