"""``backup create``: stage every component, pack one archive, upload, manifest last."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from codeweaver.backup.archive import pack
from codeweaver.backup.destinations import ARCHIVE, Destination
from codeweaver.backup.identity import identity_backend, stage_identity_export
from codeweaver.backup.layout import new_keys
from codeweaver.backup.manifest import (
    COMPONENTS,
    BackupManifest,
    CollectionInfo,
    new_backup_id,
)
from codeweaver.backup.metrics_export import EXPORT_FILE, export_metrics, prometheus_client
from codeweaver.backup.paths import private_dir, write_private
from codeweaver.backup.project_data import (
    LockFactory,
    ProjectRef,
    copy_sqlite,
    snapshot_project,
)
from codeweaver.backup.redact import public_settings, redact_text
from codeweaver.backup.server_projects import snapshot_server_project
from codeweaver.backup.signing import sign_manifest
from codeweaver.backup.throttle import Throttle
from codeweaver.config import Settings
from codeweaver.errors import BackupError, CodeWeaverError, InputError

if TYPE_CHECKING:
    from codeweaver.adapters.server_backup import ServerCollections

__all__ = ["BackupContext", "create_backup", "normalize_components", "public_settings"]

IDENTITY_DB = "identity.db"


@dataclass(frozen=True, slots=True)
class BackupContext:
    """What the backup code needs from the rest of CodeWeaver, passed in."""

    settings: Settings
    projects: Callable[[], list[ProjectRef]]
    lock: LockFactory
    version: str
    # the validator of project names typed by users, applied to every name a backup gives
    project_name: Callable[[str], str]
    # the collections of the Qdrant server (qdrant.mode "server"), on the engine's client
    server: Callable[[], ServerCollections] | None = None
    # holds the data directory alone (no server or command using it) for the named action
    exclusive_home: Callable[[str], AbstractContextManager[None]] = lambda _action: nullcontext()

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def server_mode(self) -> bool:
        return self.settings.qdrant.mode == "server"

    def server_collections(self) -> ServerCollections:
        if self.server is None:
            raise BackupError("no Qdrant server is configured (qdrant.mode is not 'server')")
        return self.server()


def normalize_components(
    components: Sequence[str] | None, *, with_metrics: bool = False
) -> list[str]:
    """Validate names; ``collections`` and ``manifests`` always travel together. None
    named means every component, ``metrics`` only ``with_metrics``."""
    default = [c for c in COMPONENTS if c != "metrics" or with_metrics]
    chosen = list(components) if components else default
    unknown = [c for c in chosen if c not in COMPONENTS]
    if unknown:
        raise InputError(
            f"unknown backup component(s) {', '.join(unknown)}; choose from {', '.join(COMPONENTS)}"
        )
    if "collections" in chosen or "manifests" in chosen:
        chosen += ["collections", "manifests"]
    return [c for c in COMPONENTS if c in chosen]


def check_request(
    ctx: BackupContext, components: Sequence[str] | None, project: str | None
) -> list[str]:
    """The components a backup of ``components`` / ``project`` would hold; bad input
    (unknown names, ``metrics`` without a usable Prometheus setting, an unknown project)
    is refused here, before any work."""
    cfg = ctx.settings.backup
    chosen = normalize_components(components, with_metrics=cfg.prometheus_url is not None)
    if components is not None and "metrics" in components:
        prometheus_client(cfg)
    if project is not None and project not in {ref.name for ref in ctx.projects()}:
        raise InputError(f"unknown project {project!r}")
    return chosen


def _stage_projects(
    ctx: BackupContext, staging: Path, project: str | None, throttle: Throttle | None
) -> tuple[list[CollectionInfo], list[str]]:
    refs = ctx.projects()
    if project is not None:
        refs = [r for r in refs if r.name == project]
        if not refs:
            raise InputError(f"unknown project {project!r}")
    cfg = ctx.settings.backup
    snapshot: Callable[..., CollectionInfo] = snapshot_project
    if ctx.server_mode:
        snapshot = partial(snapshot_server_project, server=ctx.server_collections())
    infos = [
        snapshot(
            ref,
            staging / "projects" / ref.name,
            lock=ctx.lock,
            lock_timeout=cfg.lock_timeout,
            probes=cfg.probe_queries,
            throttle=throttle,
        )
        for ref in refs
    ]
    notes = [] if refs else ["no projects indexed"]
    return infos, notes


def _stage(
    ctx: BackupContext,
    staging: Path,
    components: list[str],
    project: str | None,
    throttle: Throttle | None,
) -> tuple[list[CollectionInfo], list[str]]:
    infos: list[CollectionInfo] = []
    notes: list[str] = []
    if "collections" in components:
        infos, notes = _stage_projects(ctx, staging, project, throttle)
    if "identity" in components:
        db = ctx.home / IDENTITY_DB
        if identity_backend(ctx.settings) == "postgresql":
            notes.append(stage_identity_export(ctx.settings, staging / "identity"))
        elif db.is_file():
            copy_sqlite(db, staging / "identity" / IDENTITY_DB)
            notes.append(f"identity: SQLite identity store copied to identity/{IDENTITY_DB}")
        else:
            notes.append(f"identity: no {IDENTITY_DB} in the data directory (nothing to back up)")
    if "settings" in components:
        text = json.dumps(public_settings(ctx.settings), indent=2, sort_keys=True)
        write_private(staging / "settings" / "settings.json", text.encode())
    return infos, notes


def _stage_metrics(ctx: BackupContext, staging: Path, required: bool) -> list[str]:
    """The Prometheus export. Asked for by name, a failure fails the backup; as part of
    the default set it is a note, so a monitoring outage never stops a backup."""
    try:
        export = export_metrics(ctx.settings.backup, staging / EXPORT_FILE)
    except CodeWeaverError as exc:
        if required:
            raise BackupError(str(exc)) from exc
        shutil.rmtree(staging / Path(EXPORT_FILE).parent, ignore_errors=True)
        return [f"{exc} (every other component is backed up)"]
    if not any(q["result"] for q in export["queries"]):
        return [
            f"metrics: Prometheus at {export['prometheus_url']} holds no CodeWeaver series "
            f"for the last {export['range']['days']:g} days (does it scrape this server?)"
        ]
    return []


def create_backup(
    ctx: BackupContext,
    dest: Destination,
    *,
    components: Sequence[str] | None = None,
    project: str | None = None,
    backup_id: str | None = None,
    throttle: Throttle | None = None,
    key: bytes,
) -> BackupManifest:
    """Make one backup at ``dest``; the manifest, signed with ``key``, is uploaded last,
    after the archive.

    ``throttle`` caps the rate of the shard copy or collection export, the packing and
    (when ``dest`` was opened with it) the upload."""
    chosen = check_request(ctx, components, project)
    metrics_required = components is not None and "metrics" in components
    started = time.monotonic()
    bid = backup_id or new_backup_id()
    keys = new_keys(bid)
    work = ctx.home / ".backup-work" / bid
    staging = work / "data"
    try:
        private_dir(staging)
        notes = _stage_metrics(ctx, staging, metrics_required) if "metrics" in chosen else []
        infos, stage_notes = _stage(ctx, staging, chosen, project, throttle)
        notes += stage_notes
        archive_path = work / ARCHIVE
        files, archive = pack(staging, archive_path, throttle)
        dest.put_file(archive_path, keys.archive)
        manifest = BackupManifest(
            backup_id=bid,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            codeweaver_version=ctx.version,
            components=[c for c in chosen if c != "metrics" or (staging / EXPORT_FILE).is_file()],
            collections=infos,
            files=files,
            archive=archive,
            seconds=round(time.monotonic() - started, 3),
            notes=[redact_text(n) for n in notes],
        )
        signed = sign_manifest(manifest.to_dict(), key)
        dest.put_bytes(json.dumps(signed, indent=2, sort_keys=True).encode(), keys.manifest)
        return manifest
    except OSError as exc:
        raise BackupError(f"backup {bid} failed: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
