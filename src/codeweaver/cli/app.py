"""The ``codeweaver`` command line. Thin: parse, call the engine, render.

Exit codes: 0 ok, 1 failure, 2 usage (bad arguments, bad input, unknown names).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from codeweaver.cli import (
    backup_cmd,
    cache_cmd,
    daemon_cmd,
    doctor_cmd,
    keys_cmd,
    logs_cmd,
    mcp_cmd,
    render,
    report_cmd,
    serve,
    support_cmd,
    users_cmd,
    watch_cmd,
)
from codeweaver.cli.errors import guarded
from codeweaver.cli.fast import read_batch
from codeweaver.cli.options import ConfigOpt, JsonOpt, ProjectOpt
from codeweaver.cli.state import close_engine
from codeweaver.errors import InputError

__all__ = ["app", "main"]

app = typer.Typer(
    name="codeweaver",
    help="Semantic code search: index codebases, then ask in words or identifiers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's help renderer costs more than the command
)
projects_app = typer.Typer(
    help="List or remove indexed projects.", no_args_is_help=False, rich_markup_mode=None
)


def _print_version(value: bool) -> None:
    if value:
        from codeweaver import __version__

        typer.echo(f"codeweaver {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    pass


app.add_typer(projects_app, name="projects")
backup_cmd.register(app)
mcp_cmd.register(app)
serve.register(app)
watch_cmd.register(app)
doctor_cmd.register(app)
report_cmd.register(app)
logs_cmd.register(app)
support_cmd.register(app)
cache_cmd.register(app)
users_cmd.register(app)
keys_cmd.register(app)
daemon_cmd.register(app)


@app.command()
@guarded
def index(
    path: Annotated[str, typer.Argument(help="Folder to index.")],
    project: ProjectOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Rebuild from scratch.")] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Index (or incrementally re-index) a codebase."""
    from codeweaver.cli.target import target_from

    target = target_from(config)
    body = {"path": path, "project": project, "full": full}
    with render.index_progress(enabled=not json_out) as on_progress:
        stats = target.index(body, on_progress)
    if json_out:
        render.print_json(stats)
    else:
        render.index_summary(stats)
    if stats["files_total"] == 0:
        render.error(f"nothing to index under {path}: every file is ignored, skipped or absent")
        raise typer.Exit(1)


@app.command()
@guarded
def search(
    query: Annotated[str | None, typer.Argument(help="What to look for.")] = None,
    project: ProjectOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Results (1-100).")] = 10,
    language: Annotated[
        str | None,
        typer.Option("--language", "-l", help="Only chunks in this language, e.g. python, go."),
    ] = None,
    path: Annotated[
        str | None, typer.Option("--path", help="Path glob, e.g. 'src/**/*.py'.")
    ] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="function, class, method …")] = None,
    batch: Annotated[
        Path | None, typer.Option("--batch", help="File with one query per line.")
    ] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Search a project in natural language or by identifier."""
    from codeweaver.cli.target import target_from

    if (query is None) == (batch is None):
        raise InputError("give either a QUERY or --batch FILE")
    queries = [query] if query is not None else read_batch(batch)  # type: ignore[arg-type]
    target = target_from(config)
    for text in queries:
        body = {"query": text, "project": project, "limit": limit}
        body |= {"language": language, "path": path, "kind": kind}
        answer = target.search(body)
        if json_out:
            keep = ("results", "took_ms", "degraded")
            render.print_json({k: answer[k] for k in keep if k in answer})
        else:
            render.search_results(answer)


@app.command()
@guarded
def status(project: ProjectOpt = None, json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Show a project's files, chunks, failures, last run and commit."""
    from codeweaver.cli.target import target_from

    info = target_from(config).status(project)
    if json_out:
        render.print_json(info)
    else:
        render.status(info)


@projects_app.callback(invoke_without_command=True)
@guarded
def projects_default(
    ctx: typer.Context, json_out: JsonOpt = False, config: ConfigOpt = None
) -> None:
    """List projects (default) — or 'projects remove NAME'."""
    if ctx.invoked_subcommand is None:
        _list_projects(json_out, config)


@projects_app.command("list")
@guarded
def projects_list(json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
    """List indexed projects."""
    _list_projects(json_out, config)


def _list_projects(json_out: bool, config: Path | None) -> None:
    from codeweaver.cli.target import target_from

    items = target_from(config).projects()
    if json_out:
        render.print_json({"projects": items})
    else:
        render.projects(items)


@projects_app.command("remove")
@guarded
def projects_remove(
    name: Annotated[str, typer.Argument(help="Project to delete (index data only).")],
    config: ConfigOpt = None,
) -> None:
    """Delete a project's index (the source folder is untouched)."""
    from codeweaver.cli.target import target_from

    target_from(config).remove(name)
    render.info(f"removed project {name}")


# every folder CodeWeaver creates is 0700 and every file 0600: the data directory holds
# the identity store, keys and secrets, and backups hold copies of them
PRIVATE_UMASK = 0o077


def main() -> None:
    os.umask(PRIVATE_UMASK)
    try:
        app()
    finally:
        close_engine()
        sys.stdout.flush()


if __name__ == "__main__":  # pragma: no cover
    main()
