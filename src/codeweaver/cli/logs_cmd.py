"""``codeweaver logs analyze``: errors, slow requests, failed searches, auth, store errors."""

from __future__ import annotations

import gzip
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer

from codeweaver.cli import render
from codeweaver.cli.errors import guarded
from codeweaver.cli.options import ConfigOpt
from codeweaver.cli.state import settings_from
from codeweaver.errors import InputError

if TYPE_CHECKING:
    pass


__all__ = ["parse_since", "register"]

logs_app = typer.Typer(
    help="Analyse CodeWeaver's logs.", no_args_is_help=True, rich_markup_mode=None
)
_SINCE = re.compile(r"^([1-9][0-9]*)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_BUFFER = 1 << 20


def parse_since(text: str, now: datetime | None = None) -> datetime:
    m = _SINCE.match(text)
    if m is None:
        raise InputError(f"invalid --since {text!r}: use a number and s, m, h or d (e.g. 1h)")
    delta = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    return (now or datetime.now(UTC)) - delta


def _lines(source: str) -> Iterator[bytes]:
    if source == "-":
        yield from sys.stdin.buffer
        return
    path = Path(source)
    try:
        fh: BinaryIO | gzip.GzipFile = (
            gzip.open(path, "rb")  # noqa: SIM115 - closed by the with below
            if path.suffix == ".gz"
            else path.open("rb", buffering=_BUFFER)
        )
    except OSError as exc:
        raise InputError(f"cannot read log file {path}: {exc.strerror or exc}") from exc
    with fh:
        try:
            yield from fh
        except (OSError, EOFError) as exc:
            raise InputError(f"cannot read log file {path}: {exc}") from exc


def _show(data: dict[str, Any]) -> None:
    rate = data["error_rate"]
    rows = [
        (
            "lines",
            f"{data['lines']} ({data['json_lines']} JSON, {data['text_lines']} text, "
            f"{data['unparsed_lines']} unrecognised, {data['outside_window']} too old)",
        ),
        ("period", f"{data['first_timestamp'] or '?'} .. {data['last_timestamp'] or '?'}"),
        ("requests", str(data["requests"])),
        ("errors", str(data["errors"])),
        (
            "error rate",
            "no data" if rate is None else f"{rate * 100:.2f} % ({data['error_rate_basis']})",
        ),
        ("critical errors", str(data["critical_errors"])),
        ("slow requests", str(data["slow_requests"])),
        ("memory warnings", str(data["memory_warnings"])),
        ("searches", str(data["searches"])),
        ("failed searches", str(data["failed_searches"])),
        ("slow searches", str(data["slow_searches"])),
        ("auth failures", str(data["auth_failures"])),
        ("authz denied", str(data["authz_denied"])),
        ("store errors", str(data["store_errors"])),
    ]
    for key, value in rows:
        render.info(f"{key:<16} {value}")
    if data["errors_by_type"]:
        render.info("errors by type:")
        for name, count in data["errors_by_type"].items():
            render.info(f"  {count:>8}  {name}")
    for sample in data["critical_samples"]:
        render.info(f"critical: {sample}")
    render.info("recommendations:")
    for rec in data["recommendations"] or ["none: all within thresholds"]:
        render.info(f"  - {rec}")


@logs_app.command("analyze")
@guarded
def analyze_cmd(
    source: Annotated[
        str | None, typer.Argument(metavar="PATH|-", help="Log file (.gz ok) or '-'.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only lines newer than this, e.g. 1h (--kubernetes: 1h)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOpt = None,
    kubernetes: Annotated[
        bool, typer.Option("--kubernetes", help="Collect the CodeWeaver pods' logs first.")
    ] = False,
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="Namespace (default: codeweaver).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Folder for the collected logs (default: a new one)."),
    ] = None,
    kubeconfig: Annotated[
        Path | None,
        typer.Option("--kubeconfig", help="Kubeconfig (default: $KUBECONFIG, in-cluster)."),
    ] = None,
) -> None:
    """Count errors by type, slow requests and searches, auth failures, store errors.

    With --kubernetes, every CodeWeaver pod's logs of the time range are collected into
    --output first and analyzed together.
    """
    from codeweaver.diagnostics.logscan import analyze

    settings = settings_from(config)
    where: dict[str, Any] | None = None
    if kubernetes:
        from codeweaver.cli.kube import DEFAULT_NAMESPACE, collect_and_analyze

        if source is not None:
            raise InputError("--kubernetes collects the logs itself: give no PATH")
        stats, where = collect_and_analyze(
            namespace or DEFAULT_NAMESPACE,
            kubeconfig,
            parse_since(since or "1h"),
            output,
            10.0,
            settings.operations,
        )
    elif source is None:
        raise InputError("give a log file, '-' for stdin, or --kubernetes")
    elif namespace or output or kubeconfig:
        raise InputError("--namespace, --output and --kubeconfig need --kubernetes")
    else:
        cutoff = parse_since(since) if since else None
        stats = analyze(_lines(source), settings.operations, cutoff)
    data = stats.as_dict(settings.operations)
    if json_out:
        render.print_json(data | ({"kubernetes": where} if where else {}))
    else:
        if where:
            render.info(f"collected {len(where['collected'])} logs into {where['output']}")
        _show(data)


def register(app: typer.Typer) -> None:
    """Add the ``logs`` command group to ``app``."""
    app.add_typer(logs_app, name="logs")
