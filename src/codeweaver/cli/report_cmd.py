"""``codeweaver report performance``: latency, search, errors, cache, resources, advice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from codeweaver.cli import render
from codeweaver.cli.errors import guarded
from codeweaver.cli.options import ConfigOpt
from codeweaver.cli.state import settings_from
from codeweaver.errors import CodeWeaverError, InputError

if TYPE_CHECKING:
    from codeweaver.diagnostics.metrics_view import MetricsView


__all__ = ["register"]

report_app = typer.Typer(
    help="Reports about a running deployment.", no_args_is_help=True, rich_markup_mode=None
)


def _view(
    prometheus_url: str | None,
    url: str | None,
    window: str,
    token: str | None,
    ca_file: Path | None,
) -> MetricsView:
    from codeweaver.adapters import http_get
    from codeweaver.adapters.prometheus_api import PrometheusClient
    from codeweaver.diagnostics.metrics_view import PromView, ScrapeView, parse_range
    from codeweaver.diagnostics.promtext import parse

    if (prometheus_url is None) == (url is None):
        raise InputError("give either --prometheus-url URL or --url URL (the server's /metrics)")
    if prometheus_url is not None:
        return PromView(PrometheusClient(prometheus_url, ca_file=ca_file), parse_range(window))
    assert url is not None
    base = http_get.validate_url(url)
    resp = http_get.get(f"{base}/metrics", token=token, ca_file=ca_file)
    if resp.status != 200:
        raise CodeWeaverError(f"{base}/metrics answered HTTP {resp.status}; no metrics to read")
    return ScrapeView(parse(resp.text), f"{base}/metrics, since the process started")


@report_app.command("performance")
@guarded
def performance(
    prometheus_url: Annotated[
        str | None, typer.Option("--prometheus-url", help="Prometheus scraping the servers.")
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="A server; its /metrics is read once.")
    ] = None,
    window: Annotated[
        str, typer.Option("--range", help="Time range (Prometheus only): 30m, 1h, 7d.")
    ] = "1h",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
    fmt: Annotated[
        Literal["text", "json", "markdown"], typer.Option("--format", help="Output format.")
    ] = "text",
    token: Annotated[
        str | None, typer.Option("--token", envvar="CODEWEAVER_TOKEN", help="Bearer token.")
    ] = None,
    ca_file: Annotated[Path | None, typer.Option("--ca-file", help="CA bundle for https.")] = None,
    config: ConfigOpt = None,
) -> None:
    """p50/p95/p99 latency, search p95 and rate, errors by endpoint, cache, memory, CPU."""
    from codeweaver.diagnostics.perf_report import build_report, render_markdown, render_text

    settings = settings_from(config)
    report = build_report(_view(prometheus_url, url, window, token, ca_file), settings.operations)
    if fmt == "json":
        text = json.dumps(report, indent=2) + "\n"
    elif fmt == "markdown":
        text = render_markdown(report)
    else:
        text = render_text(report)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from exc
    render.info(f"wrote {output}")


def register(app: typer.Typer) -> None:
    """Add the ``report`` command group to ``app``."""
    app.add_typer(report_app, name="report")
