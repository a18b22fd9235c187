"""``codeweaver cache warm|stats|clear``: the embedding and search-result caches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from codeweaver.cli import render
from codeweaver.cli.errors import guarded
from codeweaver.cli.options import ConfigOpt, JsonOpt, ProjectOpt

if TYPE_CHECKING:
    pass


__all__ = ["register"]


def _stats_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for kind, s in report["stats"].items():
        lines.append(
            f"{kind}: {s['hits']} hits, {s['misses']} misses, "
            f"{s['entries']} entries, {s['size_bytes']} bytes in this process"
        )
    shared = report["shared"]
    if not shared["configured"]:
        lines.append("shared cache: not configured (set redis.url)")
    else:
        extra = ""
        if "keys" in shared:
            extra = f", {shared['keys']} keys, {shared['used_memory']} bytes used"
        lines.append(f"shared cache: {shared['status']}: {shared['detail']}{extra}")
    for project, top in report["popular"].items():
        lines.append(f"popular searches in {project}: {len(top)}")
        lines.extend(f"  {q['count']:>6}  {q['query']}  [{q['tenant']}]" for q in top)
    return lines


def register(app: typer.Typer) -> None:
    """Add the ``cache`` command group to ``app``."""
    cache_app = typer.Typer(
        help="Warm, inspect or clear the caches.", no_args_is_help=True, rich_markup_mode=None
    )
    app.add_typer(cache_app, name="cache")

    @cache_app.command("warm")
    @guarded
    def warm(
        project: ProjectOpt = None,
        top: Annotated[
            int | None, typer.Option("--top", min=0, help="Popular searches to re-run.")
        ] = None,
        json_out: JsonOpt = False,
        config: ConfigOpt = None,
    ) -> None:
        """Re-run the most popular searches and pre-embed the common phrases."""
        from codeweaver.cli.target import target_from

        done = target_from(config).cache_warm(project, top)
        if json_out:
            render.print_json(done)
        else:
            render.info(
                f"warmed {done['projects']} projects: {done['searches']} searches re-run, "
                f"{done['phrases']} phrases embedded"
            )

    @cache_app.command("stats")
    @guarded
    def stats(
        top: Annotated[int, typer.Option("--top", min=0, help="Popular searches listed.")] = 10,
        json_out: JsonOpt = False,
        config: ConfigOpt = None,
    ) -> None:
        """Hit/miss counts, the shared cache's state and the most popular searches."""
        from codeweaver.cli.target import target_from

        report = target_from(config).cache_report(top)
        if json_out:
            render.print_json(report)
        else:
            for line in _stats_lines(report):
                render.info(line)

    @cache_app.command("clear")
    @guarded
    def clear(
        project: ProjectOpt = None, json_out: JsonOpt = False, config: ConfigOpt = None
    ) -> None:
        """Drop cached search results (of one project, or all) and, for all, embeddings."""
        from codeweaver.cli.target import target_from

        removed = target_from(config).cache_clear(project)["removed"]
        if json_out:
            render.print_json({"removed": removed})
        else:
            render.info(
                f"removed {removed['results']} cached results and "
                f"{removed['embedding']} cached embeddings"
            )
