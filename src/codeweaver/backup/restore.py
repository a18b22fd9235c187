"""``backup restore``: fetch, verify, stage, check, swap in, report.

Nothing live is touched until the backup's signature, names, checksums, version and
schema have passed and the staged collections have been opened, counted and probed (a Qdrant server
project's export is first loaded into a new collection beside the live one). Then a
journaled swap moves everything in at once (see ``swap`` and ``server_swap``). Every path
built from a name in the backup is resolved and must stay inside its folder. Every step
lands in ``<home>/recovery/<recovery_id>/recovery-report.json`` (a private 0700 folder).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codeweaver.backup.create import IDENTITY_DB, BackupContext, normalize_components
from codeweaver.backup.destinations import Destination
from codeweaver.backup.identity import plan_identity_import, then_import_identity
from codeweaver.backup.manifest import BackupManifest, CollectionInfo, new_backup_id
from codeweaver.backup.metrics_export import EXPORT_FILE
from codeweaver.backup.paths import contained, write_private
from codeweaver.backup.signing import Trust
from codeweaver.backup.swap import Swap, journal_path, rollback_interrupted, swap_in
from codeweaver.backup.targets import Targets, swapper
from codeweaver.backup.verify import fetch_backup
from codeweaver.errors import BackupError, CodeWeaverError, IndexingError

__all__ = ["REPORT_NAME", "restore_backup", "version_problem"]

REPORT_NAME = "recovery-report.json"


def _version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def version_problem(backup_version: str, running: str) -> str | None:
    """A backup from a newer CodeWeaver (or another major version) is refused."""
    b, r = _version_tuple(backup_version), _version_tuple(running)
    if b[:1] != r[:1] or b > r:
        return (
            f"backup was made by CodeWeaver {backup_version}; this is {running} "
            "(restore it with the same or a newer release of that major version)"
        )
    return None


class _Steps:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    @contextmanager
    def step(self, name: str) -> Iterator[dict[str, Any]]:
        entry: dict[str, Any] = {"step": name, "ok": False}
        self.items.append(entry)
        started = time.monotonic()
        try:
            yield entry
            entry["ok"] = not entry.get("problems")
        except CodeWeaverError as exc:
            entry.setdefault("problems", []).append(str(exc))
        finally:
            entry["seconds"] = round(time.monotonic() - started, 3)
        if not entry["ok"]:
            raise _Failed(name)


class _Failed(Exception):
    pass


def _select(
    manifest: BackupManifest, components: list[str], project: str | None
) -> list[CollectionInfo]:
    missing = [c for c in components if c not in manifest.components]
    if missing:
        raise BackupError(f"backup {manifest.backup_id} holds no {', '.join(missing)}")
    if "collections" not in components:
        return []
    chosen = [c for c in manifest.collections if project in (None, c.project)]
    if project is not None and not chosen:
        names = ", ".join(c.project for c in manifest.collections) or "none"
        raise BackupError(f"backup {manifest.backup_id} has no project {project!r} ({names})")
    return chosen


def _project_dir(base: Path, project: str) -> Path:
    """``base/projects/<project>``, refused unless it stays inside ``base/projects``."""
    return contained(base / "projects", project)


def _check_not_locked(ctx: BackupContext, infos: list[CollectionInfo]) -> None:
    for info in infos:
        folder = _project_dir(ctx.home, info.project)
        if not folder.is_dir():
            continue
        try:
            with ctx.lock(folder, info.project):
                pass
        except IndexingError as exc:
            raise BackupError(f"cannot restore while indexing: {exc}") from exc


def _plan(
    ctx: BackupContext, data: Path, work: Path, infos: list[CollectionInfo], components: list[str]
) -> list[Swap]:
    swaps: list[Swap] = []
    for info in infos:
        live = _project_dir(ctx.home, info.project)
        swaps.append(
            Swap(
                live=str(live),
                new=str(_project_dir(data, info.project)),
                old=str(_project_dir(work / "previous", info.project)),
                existed=live.exists(),
            )
        )
    if "identity" in components and (data / "identity" / IDENTITY_DB).is_file():
        # the live database's -wal/-shm must not be replayed onto the restored file
        for suffix in ("", "-wal", "-shm"):
            live = ctx.home / f"{IDENTITY_DB}{suffix}"
            if suffix and not live.exists():
                continue
            swaps.append(
                Swap(
                    live=str(live),
                    new=str(data / "identity" / f"{IDENTITY_DB}{suffix}"),
                    old=str(work / "previous" / f"{IDENTITY_DB}{suffix}"),
                    existed=live.exists(),
                )
            )
    return swaps


def restore_backup(
    ctx: BackupContext,
    dest: Destination,
    backup_id: str,
    trust: Trust,
    *,
    components: Sequence[str] | None = None,
    project: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Restore ``backup_id`` if it passes ``trust``; returns the recovery report (``ok``
    false on any failure)."""
    rid = "r" + new_backup_id()
    work = ctx.home / ".restore" / rid
    out_dir = ctx.home / "recovery" / rid
    started = datetime.now(UTC)
    steps = _Steps()
    report: dict[str, Any] = {
        "recovery_id": rid,
        "backup_id": backup_id,
        "started_at": started.isoformat(timespec="seconds"),
        "destination": dest.uri,
        "components_restored": [],
        "projects": [],
        "steps": steps.items,
    }
    say = on_step or (lambda _msg: None)
    targets = Targets(ctx, rid)
    try:
        with steps.step("recover interrupted restore") as entry:
            entry["actions"] = rollback_interrupted(ctx.home, swapper(ctx))
        chosen = normalize_components(components)
        say("downloading and checking the backup")
        with steps.step("download and verify checksums") as entry:
            fetched = fetch_backup(dest, backup_id, work, trust)
            entry["problems"] = list(fetched.problems)
            entry["signature"] = report["signature"] = fetched.signature
        manifest = fetched.manifest
        assert manifest is not None
        if not components and "metrics" in manifest.components:
            chosen.append("metrics")  # by default, whatever export the backup holds
        with steps.step("check version and contents") as entry:
            problem = version_problem(manifest.codeweaver_version, ctx.version)
            entry["problems"] = [problem] if problem else []
            infos = _select(manifest, chosen, project)
        say("opening the restored collections (counts, probe searches)")
        with steps.step("verify restored collections") as entry:
            checks = [targets.verify(_project_dir(fetched.data, i.project), i) for i in infos]
            report["projects"] = checks
            entry["problems"] = [p for c in checks for p in c["problems"]]
        identity = None
        if "identity" in chosen:
            with steps.step("check identity store") as entry:
                identity = plan_identity_import(ctx.settings, fetched.data)
                entry["identity"] = identity.summary() if identity else None
        done = [c for c in chosen if c in ("collections", "manifests") and infos]
        settings_file = fetched.data / "settings" / "settings.json"
        if "settings" in chosen and settings_file.is_file():
            write_private(out_dir / "settings.json", settings_file.read_bytes())
            done.append("settings")
            report["settings_file"] = str(out_dir / "settings.json")
        metrics_file = fetched.data / EXPORT_FILE
        if "metrics" in chosen and metrics_file.is_file():  # for review; never sent to Prometheus
            write_private(out_dir / metrics_file.name, metrics_file.read_bytes())
            done.append("metrics")
            report["metrics_file"] = str(out_dir / metrics_file.name)
        say("swapping the restored data in")
        with steps.step("swap in") as entry:
            _check_not_locked(ctx, infos)
            as_files = [c for c in chosen if identity is None or c != "identity"]
            collections = targets.swaps(fetched.data)
            swaps = _plan(ctx, fetched.data, work, infos, as_files)

            def check_live() -> list[str]:
                live = [targets.check_live(i) for i in infos]
                report["live_checks"] = live
                return [p for c in live for p in c["problems"]]

            notes = swap_in(
                ctx.home,
                swaps,
                work,
                then_import_identity(check_live, identity, ctx.settings, report),
                collections=collections,
                swapper=swapper(ctx) if collections else None,
            )
            entry["notes"] = notes
            entry["collections"] = collections
            for info in infos:
                (_project_dir(ctx.home, info.project) / "probes.json").unlink(missing_ok=True)
            entry["items"] = [s.live for s in swaps]
        if identity is not None or any(s.live.endswith(f"/{IDENTITY_DB}") for s in swaps):
            done.append("identity")
        report["components_restored"] = done
        report["ok"] = True
    except _Failed:
        report["ok"] = False
    except CodeWeaverError as exc:
        report["ok"] = False
        report.setdefault("problems", []).append(str(exc))
    finally:
        # an interrupted swap (Ctrl-C) keeps its parked data here: the journal's to undo
        if not journal_path(ctx.home).exists():
            shutil.rmtree(work, ignore_errors=True)
            cleanup = targets.clean_up()
            if cleanup:
                report["cleanup"] = cleanup
    finished = datetime.now(UTC)
    report["finished_at"] = finished.isoformat(timespec="seconds")
    report["seconds"] = round((finished - started).total_seconds(), 3)
    report["problems"] = report.get("problems", []) + [
        p for s in steps.items for p in s.get("problems", [])
    ]
    path = out_dir / REPORT_NAME
    write_private(path, json.dumps(report, indent=2).encode())
    report["report_path"] = str(path)
    return report
