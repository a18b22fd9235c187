"""``codeweaver support``: triage through the escalation matrix, and the runbook articles."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from codeweaver.cli import render
from codeweaver.cli.errors import guarded
from codeweaver.cli.options import ConfigOpt, JsonOpt
from codeweaver.cli.state import settings_from

if TYPE_CHECKING:
    from codeweaver.config import Settings
    from codeweaver.support.runbooks import KbHit


__all__ = ["kb_search", "register"]

support_app = typer.Typer(
    help="Support triage and the runbook knowledge base.", rich_markup_mode=None
)


@support_app.command("triage")
@guarded
def triage_cmd(
    description: Annotated[str, typer.Argument(help="What is wrong, in words.")],
    severity: Annotated[
        str, typer.Option("--severity", "-s", help="low, medium, high or critical.")
    ] = "medium",
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Pick the support tier and response time for a problem."""
    from rich.markup import escape

    from codeweaver.support.triage import triage

    ops = settings_from(config).operations
    result = triage(
        description,
        severity.lower(),
        ops.escalation,
        emergency=ops.escalation_emergency,
        fallback=ops.escalation_fallback,
        tiers=ops.support_tiers,
    )
    if json_out:
        render.print_json(result.as_dict())
        return
    title = f" ({result.tier_title})" if result.tier_title else ""
    render.out.print(
        f"[bold]{escape(result.tier)}[/]{escape(title)}: respond within {escape(result.response)}"
    )
    render.info(f"category: {result.category}")
    render.info(f"why: {result.reason}")


def kb_search(settings: Settings, query: str, limit: int = 5) -> list[KbHit]:
    """Search the articles with the hybrid engine over a dedicated, incrementally kept index."""
    from codeweaver.api.runbooks import KbSearch

    kb = KbSearch(settings)
    try:
        return kb.search(query, limit)
    finally:
        kb.close()


@support_app.command("kb")
@guarded
def kb_cmd(
    words: Annotated[
        list[str] | None, typer.Argument(help="QUERY to search, or 'show ID'; none lists all.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=20, help="Articles to show (1-20).")
    ] = 5,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Runbook articles: list them, search them (kb QUERY) or read one (kb show ID)."""
    from rich.markdown import Markdown
    from rich.markup import escape

    from codeweaver.support.runbooks import article, articles

    words = words or []
    if len(words) == 2 and words[0] == "show":
        art = article(words[1])
        if json_out:
            render.print_json({"id": art.id, "title": art.title, "text": art.text})
        elif sys.stdout.isatty():
            render.out.print(Markdown(art.text))
        else:  # piped: the article's Markdown as written, no line cut at a terminal width
            sys.stdout.write(art.text if art.text.endswith("\n") else art.text + "\n")
            sys.stdout.flush()
        return
    if not words:
        items = articles()
        if json_out:
            render.print_json({"articles": [{"id": a.id, "title": a.title} for a in items]})
        for a in items if not json_out else []:
            render.info(f"{a.id:<28} {a.title}")
        return
    hits = kb_search(settings_from(config), " ".join(words), limit)
    if json_out:
        render.print_json(
            {
                "results": [
                    {
                        "id": h.article.id,
                        "title": h.article.title,
                        "score": h.score,
                        "snippet": h.snippet,
                    }
                    for h in hits
                ]
            }
        )
        return
    for rank, h in enumerate(hits, 1):
        render.out.print(f"[bold]{rank}. {escape(h.article.id)}[/]  {escape(h.article.title)}")
        render.out.print(f"   [dim]{escape(h.snippet)}[/]")
    if hits:
        render.info(f"read one with: codeweaver support kb show {hits[0].article.id}")


def register(app: typer.Typer) -> None:
    """Add the ``support`` command group to ``app``."""
    app.add_typer(support_app, name="support")
