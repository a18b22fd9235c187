"""``backup verify``: download a backup, check the manifest, the archive and every file."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codeweaver.errors import BackupError, CodeWeaverError
from codeweaver.ops.backup.archive import check_files, extract_safely
from codeweaver.ops.backup.destinations import ARCHIVE, MANIFEST, VERIFIED, Destination
from codeweaver.ops.backup.manifest import (
    SCHEMA_VERSION,
    BackupManifest,
    sha256_file,
    validate_backup_id,
)
from codeweaver.ops.backup.throttle import Throttle

__all__ = ["Fetched", "fetch_backup", "read_manifest", "verify_backup"]


@dataclass(slots=True)
class Fetched:
    """A downloaded, unpacked backup; ``problems`` empty means every check passed."""

    manifest: BackupManifest | None
    data: Path
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not self.problems


def read_manifest(dest: Destination, backup_id: str) -> BackupManifest | None:
    raw = dest.get_bytes(f"{validate_backup_id(backup_id)}/{MANIFEST}")
    if raw is None:
        return None
    return BackupManifest.from_json(raw, source=f"{dest.uri}{backup_id}/{MANIFEST}")


def fetch_backup(
    dest: Destination, backup_id: str, work: Path, throttle: Throttle | None = None
) -> Fetched:
    """Download ``backup_id`` into ``work`` and check it; never raises for bad content.

    ``throttle`` caps the rate of the local checksums and unpacking."""
    data = work / "data"
    try:
        manifest = read_manifest(dest, backup_id)
    except CodeWeaverError as exc:
        return Fetched(None, data, [str(exc)])
    if manifest is None:
        known = backup_id in dest.backup_ids()
        why = "is incomplete (no manifest.json)" if known else "does not exist"
        return Fetched(None, data, [f"backup {backup_id} {why} at {dest.uri}"])
    fetched = Fetched(manifest, data)
    if manifest.backup_id != backup_id:
        fetched.problems.append(f"manifest names backup {manifest.backup_id}, not {backup_id}")
    if manifest.schema_version != SCHEMA_VERSION:
        fetched.problems.append(
            f"backup schema version {manifest.schema_version} is not the supported "
            f"version {SCHEMA_VERSION}"
        )
    if fetched.problems:
        return fetched
    archive = work / ARCHIVE
    work.mkdir(parents=True, exist_ok=True)
    try:
        dest.get_file(f"{backup_id}/{ARCHIVE}", archive)
    except BackupError as exc:
        fetched.problems.append(str(exc))
        return fetched
    size = archive.stat().st_size
    if size != manifest.archive.size:
        fetched.problems.append(
            f"archive is {size} bytes, the manifest says {manifest.archive.size}"
        )
    elif sha256_file(archive, throttle) != manifest.archive.sha256:
        fetched.problems.append("archive checksum does not match the manifest")
    if fetched.problems:
        return fetched
    try:
        names = extract_safely(archive, data, throttle)
    except CodeWeaverError as exc:
        fetched.problems.append(str(exc))
        return fetched
    finally:
        archive.unlink(missing_ok=True)
    fetched.problems += check_files(data, manifest.files, names, throttle)
    return fetched


def verify_backup(
    dest: Destination, backup_id: str, work: Path, throttle: Throttle | None = None
) -> dict[str, Any]:
    """Check a backup end to end; on success record ``verified.json`` beside it."""
    try:
        fetched = fetch_backup(dest, backup_id, work, throttle)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {
        "backup_id": backup_id,
        "ok": fetched.ok,
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": len(fetched.manifest.files) if fetched.manifest else 0,
        "size_mb": fetched.manifest.size_mb if fetched.manifest else 0,
        "problems": fetched.problems,
    }
    if fetched.ok:
        dest.put_bytes(json.dumps(result).encode(), f"{backup_id}/{VERIFIED}")
    return result
