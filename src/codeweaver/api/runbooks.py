"""The runbook articles over HTTP (admins): search them and read one by its name.

Search runs through the same engine as ``codeweaver support kb``: a dedicated index of the
shipped articles under ``home/kb``, kept incrementally, built on first use and shared by
the requests of this process (one at a time). An article is read only by a name from the
shipped list, never by a path.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import Path as PathParam
from fastapi import Query, Request

from codeweaver.api.access import audit_admin
from codeweaver.config import Settings
from codeweaver.container import build_engine
from codeweaver.engine import Engine
from codeweaver.search.service import SearchRequest
from codeweaver.support.runbooks import KB_PROJECT, KbHit, article, articles, kb_dir, rank_articles
from codeweaver.types import Embedder

__all__ = ["KbSearch", "list_runbooks", "read_runbook"]

Slug = Annotated[str, PathParam(min_length=1, max_length=64)]


class KbSearch:
    """The articles' search index; ``search`` indexes what changed, then searches."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self._settings = settings.model_copy(
            update={
                "home": settings.home / "kb",
                "index": settings.index.model_copy(update={"use_git": False, "exclude": []}),
            }
        )
        self._embedder = embedder
        self._engine: Engine | None = None
        self._indexed = False
        self._lock = threading.Lock()

    def search(self, query: str, limit: int = 5) -> list[KbHit]:
        with self._lock:
            if self._engine is None:
                self._engine = build_engine(self._settings, self._embedder)
            if not self._indexed:  # the articles are package data: they change with a release
                self._engine.index(kb_dir(), KB_PROJECT)
                self._indexed = True
            result = self._engine.search(SearchRequest(query, limit=50), KB_PROJECT)
        return rank_articles(result.hits, limit)

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None


def _kb(request: Request) -> KbSearch:
    state = request.app.state
    kb: KbSearch | None = state.kb
    if kb is None:
        engine = state.engine
        kb = state.kb = KbSearch(state.settings, engine.embedder if engine else None)
    return kb


def list_runbooks(
    request: Request,
    q: Annotated[str, Query(max_length=500)] = "",
    limit: Annotated[int, Query(ge=1, le=20)] = 10,
) -> dict[str, Any]:
    query = " ".join(q.split())
    found: list[dict[str, Any]]
    if not query:
        found = [{"id": a.id, "title": a.title, "tags": list(a.tags)} for a in articles()]
    else:
        found = [
            {
                "id": h.article.id,
                "title": h.article.title,
                "tags": list(h.article.tags),
                "score": round(h.score, 4),
                "snippet": h.snippet,
            }
            for h in _kb(request).search(query, limit)
        ]
    audit_admin(request, "runbook.search", query=query, results=len(found))
    return {"query": query, "articles": found}


def read_runbook(request: Request, slug: Slug) -> dict[str, Any]:
    art = article(slug)
    audit_admin(request, "runbook.read", article=art.id)
    return {"id": art.id, "title": art.title, "tags": list(art.tags), "text": art.text}
