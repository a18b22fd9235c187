"""``codeweaver backup create|list|verify|prune|restore``."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codeweaver.cli import render
from codeweaver.cli.errors import EXIT_FAILURE, guarded
from codeweaver.cli.options import ConfigOpt, JsonOpt, ProjectOpt
from codeweaver.cli.state import settings_from

if TYPE_CHECKING:
    from collections.abc import Callable

    from codeweaver.config import Settings


__all__ = ["register"]

DestOpt = Annotated[
    str | None,
    typer.Option("--dest", help="file:///path or s3://bucket/prefix (default: settings)."),
]
ComponentsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--components",
        "-c",
        help="collections, manifests, identity, settings, metrics (repeat or comma-separate).",
    ),
]
UnsignedOpt = Annotated[
    bool,
    typer.Option(
        "--allow-unsigned",
        help="Accept a backup that is unsigned (made before backups were signed) or not "
        "signed with this server's key. Only for a backup you trust; audited.",
    ),
]


def _components(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def _emit(data: dict[str, Any], json_out: bool, line: str) -> None:
    if json_out:
        render.print_json(data)
    else:
        render.info(line)


RateOpt = Annotated[
    float | None,
    typer.Option(
        "--max-rate",
        min=0,
        help="Stream the data at most this fast, MiB/s (0: no cap; default: "
        "backup.max_mb_per_second).",
    ),
]


def _audit(
    settings: Settings, action: str, backup_id: str, result: dict[str, Any], allow_unsigned: bool
) -> None:
    """``admin.backup.<action>`` in the audit log, as the HTTP routes record theirs."""
    from codeweaver.auth.setup import build_audit

    build_audit(settings).emit(
        f"admin.backup.{action}",
        user=f"cli:{getpass.getuser()}",
        route="cli",
        outcome="success" if result["ok"] else "failure",
        reason=(result["problems"] or [None])[0],
        backup_id=backup_id,
        signature=result.get("signature"),
        allow_unsigned=allow_unsigned,
    )


def _fail_unless_ok(result: dict[str, Any]) -> None:
    """Print each problem of a failed check and exit with the failure status."""
    if not result["ok"]:
        for problem in result["problems"]:
            render.error(problem)
        raise typer.Exit(EXIT_FAILURE)


backup_app = typer.Typer(
    help="Back up, verify, prune and restore.", no_args_is_help=True, rich_markup_mode=None
)


def register(app: typer.Typer) -> None:
    """Add the ``backup`` command group to ``app``."""
    app.add_typer(backup_app, name="backup")


@backup_app.command("create")
@guarded
def create(
    dest: DestOpt = None,
    components: ComponentsOpt = None,
    project: ProjectOpt = None,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Skip re-reading the uploaded backup.")
    ] = False,
    max_rate: RateOpt = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Back up every project (or one), the identity store and the settings.

    Runs at background CPU priority (only idle CPU time) and at a capped data rate, so a
    server on the same machine keeps answering at full speed.
    """
    from codeweaver.backup.priority import run_in_background_priority
    from codeweaver.container import build_backup_service

    run_in_background_priority()
    service = build_backup_service(settings_from(config))
    out = service.create(
        dest,
        components=_components(components),
        project=project,
        verify=not no_verify,
        max_mb_per_second=max_rate,
    )
    check = out.get("verification")
    state = "" if check is None else (" verified" if check["ok"] else " FAILED verification")
    _emit(
        out,
        json_out,
        f"backup {out['backup_id']}{state}: {len(out['projects'])} project(s), "
        f"{out['points']} points, {out['size_mb']} MB in {out['seconds']}s → "
        f"{out['destination']}",
    )
    for note in [] if json_out else out["notes"]:
        render.info(f"note: {note}")
    if check is not None:
        _fail_unless_ok(check)


@backup_app.command("list")
@guarded
def list_(dest: DestOpt = None, json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
    """List backups, newest first (incomplete ones too)."""
    from codeweaver.container import build_backup_service

    rows = build_backup_service(settings_from(config)).list(dest)
    if json_out:
        render.print_json({"backups": rows})
        return
    if not rows:
        render.info("no backups")
    for r in rows:
        extra = (
            f"  {r['size_mb']} MB  {r['points']} points  {', '.join(r['projects'])}"
            if "size_mb" in r
            else ""
        )
        render.info(f"{r['backup_id']}  {r['status']:<10}{extra}")


@backup_app.command("verify")
@guarded
def verify(
    backup_id: Annotated[str, typer.Argument(help="Backup id.")],
    dest: DestOpt = None,
    max_rate: RateOpt = None,
    allow_unsigned: UnsignedOpt = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Download a backup and check its signature, every checksum and the manifest."""
    from codeweaver.container import build_backup_service

    settings = settings_from(config)
    service = build_backup_service(settings)
    out = service.verify(backup_id, dest, max_mb_per_second=max_rate, allow_unsigned=allow_unsigned)
    if allow_unsigned:
        _audit(settings, "verify", backup_id, out, allow_unsigned)
    _emit(out, json_out, f"backup {backup_id}: {'OK' if out['ok'] else 'FAILED'}")
    _fail_unless_ok(out)


@backup_app.command("prune")
@guarded
def prune(
    keep_days: Annotated[
        int | None, typer.Option("--keep-days", min=0, help="Delete backups older than this.")
    ] = None,
    keep_last: Annotated[
        int | None, typer.Option("--keep-last", min=0, help="Always keep the N newest.")
    ] = None,
    dest: DestOpt = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Delete old backups (never the newest verified one)."""
    from codeweaver.container import build_backup_service

    out = build_backup_service(settings_from(config)).prune(
        dest, keep_days=keep_days, keep_last=keep_last
    )
    _emit(out, json_out, f"deleted {len(out['deleted'])}, kept {len(out['kept'])}")


def _restore_in_owner(
    settings: Settings, body: dict[str, Any], on_step: Callable[[str], None] | None
) -> dict[str, Any] | None:
    """With an owner running, it restores: it closes its stores, swaps the backup in and
    reopens them. None when no owner runs."""
    from codeweaver.owner.client import connect

    client = connect(settings.home)
    if client is None:
        return None
    for item in client.stream("/owner/v1/restore", body):
        if "step" in item and on_step is not None:
            on_step(item["step"])
        elif "done" in item:
            return dict(item["done"])
    return None


@backup_app.command("restore")
@guarded
def restore(
    backup_id: Annotated[str, typer.Argument(help="Backup id.")],
    dest: DestOpt = None,
    components: ComponentsOpt = None,
    project: ProjectOpt = None,
    allow_unsigned: UnsignedOpt = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Verify a backup (signature, checksums), restore it beside the live data and swap it
    in."""
    from codeweaver.container import build_backup_service

    settings = settings_from(config)
    body: dict[str, Any] = {"backup_id": backup_id, "dest": dest}
    body["components"] = _components(components)
    body |= {"project": project, "allow_unsigned": allow_unsigned}
    on_step = None if json_out else render.info
    report = _restore_in_owner(settings, body, on_step)
    if report is None:  # no owner runs: restore here
        report = build_backup_service(settings).restore(
            backup_id,
            dest,
            components=_components(components),
            project=project,
            on_step=on_step,
            allow_unsigned=allow_unsigned,
        )
    _audit(settings, "restore", backup_id, report, allow_unsigned)
    line = (
        f"restored {', '.join(report['components_restored']) or 'nothing'} from {backup_id}"
        if report["ok"]
        else f"restore of {backup_id} FAILED; the current data is unchanged"
    )
    _emit(report, json_out, f"{line} (report: {report['report_path']})")
    _fail_unless_ok(report)
