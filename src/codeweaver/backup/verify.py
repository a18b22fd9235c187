"""``backup verify``: download a backup, check the manifest, the archive and every file.

The manifest is checked before anything else is downloaded: its signature (``signing``)
and every name in it, validated as if a user had typed it (backup id, project names,
components, file paths), so nothing a tampered manifest names can lead a restore out of
the data directory.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codeweaver.backup.archive import check_files, extract_safely
from codeweaver.backup.destinations import ARCHIVE, Destination
from codeweaver.backup.layout import BackupKeys, backup_ids, keys_for
from codeweaver.backup.manifest import (
    COMPONENTS,
    SCHEMA_VERSION,
    BackupManifest,
    sha256_file,
)
from codeweaver.backup.paths import private_dir, safe_relative
from codeweaver.backup.signing import Trust
from codeweaver.backup.throttle import Throttle
from codeweaver.errors import BackupError, CodeWeaverError

__all__ = ["Fetched", "fetch_backup", "read_manifest", "verify_backup"]


@dataclass(slots=True)
class Fetched:
    """A downloaded, unpacked backup; ``problems`` empty means every check passed."""

    manifest: BackupManifest | None
    data: Path
    problems: list[str] = field(default_factory=list)
    signature: str = "unchecked"

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not self.problems


def read_manifest(
    dest: Destination, backup_id: str, keys: BackupKeys | None = None
) -> BackupManifest | None:
    keys = keys or keys_for(dest, backup_id)
    raw = dest.get_bytes(keys.manifest)
    if raw is None:
        return None
    return BackupManifest.from_json(raw, source=f"{dest.uri}{keys.manifest}")


def _names_problems(manifest: BackupManifest, backup_id: str, trust: Trust) -> list[str]:
    """Every name the manifest gives, checked as user input."""
    problems: list[str] = []
    if manifest.backup_id != backup_id:
        problems.append(f"manifest names backup {manifest.backup_id!r}, not {backup_id}")
    unknown = [c for c in manifest.components if c not in COMPONENTS]
    if unknown:
        problems.append(f"manifest lists unknown component(s) {unknown!r}")
    names = [c.project for c in manifest.collections]
    if len(set(names)) != len(names):
        problems.append("manifest lists a project twice")
    checks: list[tuple[Any, str]] = [(trust.project_name, n) for n in names]
    checks += [(safe_relative, f.path) for f in manifest.files]
    for check, name in checks:
        try:
            check(name)
        except CodeWeaverError as exc:
            problems.append(f"backup manifest refused: {exc}")
    problems += [
        f"backup manifest refused: unknown store {c.store!r} for {c.project!r}"
        for c in manifest.collections
        if c.store not in ("edge", "server")
    ]
    return problems


def _check_manifest(raw: bytes, source: str, backup_id: str, data: Path, trust: Trust) -> Fetched:
    try:
        parsed = json.loads(raw)
        manifest = BackupManifest.from_json(raw, source=source)
    except (CodeWeaverError, ValueError) as exc:
        return Fetched(None, data, [f"backup manifest {source} is unreadable: {exc}"])
    fetched = Fetched(manifest, data)
    fetched.signature, problem = trust.problem(backup_id, parsed)
    if problem:
        fetched.problems.append(problem)
        return fetched
    fetched.problems += _names_problems(manifest, backup_id, trust)
    if manifest.schema_version != SCHEMA_VERSION:
        fetched.problems.append(
            f"backup schema version {manifest.schema_version} is not the supported "
            f"version {SCHEMA_VERSION}"
        )
    return fetched


def fetch_backup(
    dest: Destination, backup_id: str, work: Path, trust: Trust, throttle: Throttle | None = None
) -> Fetched:
    """Download ``backup_id`` into ``work`` and check it; never raises for bad content.

    ``throttle`` caps the rate of the local checksums and unpacking."""
    data = work / "data"
    try:
        keys = keys_for(dest, backup_id)
        raw = dest.get_bytes(keys.manifest)
        known = raw is not None or backup_id in backup_ids(dest)
    except CodeWeaverError as exc:
        return Fetched(None, data, [str(exc)])
    if raw is None:
        why = f"is incomplete (no {keys.manifest})" if known else "does not exist"
        return Fetched(None, data, [f"backup {backup_id} {why} at {dest.uri}"])
    fetched = _check_manifest(raw, f"{dest.uri}{keys.manifest}", backup_id, data, trust)
    if fetched.problems or fetched.manifest is None:
        return fetched
    manifest = fetched.manifest
    archive = work / ARCHIVE
    private_dir(work)
    try:
        dest.get_file(keys.archive, archive)
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
    dest: Destination, backup_id: str, work: Path, trust: Trust, throttle: Throttle | None = None
) -> dict[str, Any]:
    """Check a backup end to end; on success record it verified (``layout``; not for a
    backup accepted unsigned: ``verified`` means checked and authentic)."""
    try:
        fetched = fetch_backup(dest, backup_id, work, trust, throttle)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {
        "backup_id": backup_id,
        "ok": fetched.ok,
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": len(fetched.manifest.files) if fetched.manifest else 0,
        "size_mb": fetched.manifest.size_mb if fetched.manifest else 0,
        "signature": fetched.signature,
        "problems": fetched.problems,
    }
    if fetched.ok and fetched.signature == "valid":
        dest.put_bytes(json.dumps(result).encode(), keys_for(dest, backup_id).verified)
    return result
