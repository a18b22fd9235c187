"""Where a backup's objects are at its destination (a folder or an S3 prefix).

The layout (the operations guide's)::

    backups/codeweaver-backup-<ID>.tar.gz   the archive, uploaded first
    manifests/manifest-<ID>.json            the signed manifest, written last
    manifests/verified-<ID>.json            once a verification passed

so backups are listed from ``manifests/`` without downloading any archive. An archive
without its manifest is an incomplete (interrupted) backup.

Backups made before this layout (``<ID>/backup.tar.gz``, ``<ID>/manifest.json``,
``<ID>/verified.json``) are still listed, verified, restored and pruned. Only names
that hold a backup id (``manifest.is_backup_id``) are ever read as, or deleted as, a
backup; anything else sharing the destination is never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codeweaver.backup.manifest import is_backup_id, validate_backup_id
from codeweaver.errors import BackupError

if TYPE_CHECKING:
    from codeweaver.backup.destinations import Destination

__all__ = [
    "ARCHIVES",
    "MANIFESTS",
    "BackupKeys",
    "backup_ids",
    "delete_backup",
    "keys_for",
    "listing",
    "new_keys",
]

ARCHIVES = "backups"
MANIFESTS = "manifests"
_ARCHIVE = re.compile(r"codeweaver-backup-(.+)\.tar\.gz", re.ASCII)
_MANIFEST = re.compile(r"manifest-(.+)\.json", re.ASCII)


@dataclass(frozen=True, slots=True)
class BackupKeys:
    """The keys of one backup's objects at its destination."""

    backup_id: str
    archive: str
    manifest: str
    verified: str
    legacy: bool = False

    @property
    def layout(self) -> str:
        return "legacy" if self.legacy else "current"


def new_keys(backup_id: str) -> BackupKeys:
    bid = validate_backup_id(backup_id)
    return BackupKeys(
        bid,
        f"{ARCHIVES}/codeweaver-backup-{bid}.tar.gz",
        f"{MANIFESTS}/manifest-{bid}.json",
        f"{MANIFESTS}/verified-{bid}.json",
    )


def _legacy_keys(backup_id: str) -> BackupKeys:
    bid = validate_backup_id(backup_id)
    folder = f"{bid}/"
    return BackupKeys(
        bid, folder + "backup.tar.gz", folder + "manifest.json", folder + "verified.json", True
    )


def _ids(names: list[str], pattern: re.Pattern[str]) -> set[str]:
    found = (pattern.fullmatch(n) for n in names)
    return {m.group(1) for m in found if m is not None and is_backup_id(m.group(1))}


def listing(dest: Destination) -> dict[str, BackupKeys]:
    """Every backup at ``dest`` (complete or not, either layout) and its keys."""
    current = _ids(dest.names(MANIFESTS), _MANIFEST) | _ids(dest.names(ARCHIVES), _ARCHIVE)
    keys = {bid: new_keys(bid) for bid in current}
    for name in dest.names(""):
        if is_backup_id(name) and name not in keys:
            keys[name] = _legacy_keys(name)
    return keys


def backup_ids(dest: Destination) -> list[str]:
    """Every backup at ``dest``, complete or not, in either layout, oldest first."""
    return sorted(listing(dest))


def keys_for(dest: Destination, backup_id: str) -> BackupKeys:
    """Where ``backup_id``'s objects are (today's layout for a backup not found at all)."""
    bid = validate_backup_id(backup_id)
    return listing(dest).get(bid) or new_keys(bid)


def delete_backup(dest: Destination, backup_id: str) -> None:
    """Delete one backup's objects; refused (``BackupError``) for a name that is no
    backup id."""
    if not is_backup_id(backup_id):
        raise BackupError(f"refusing to delete {backup_id!r} at {dest.uri}: not a backup id")
    keys = keys_for(dest, backup_id)
    if keys.legacy:
        dest.delete_folder(backup_id)
        return
    # the manifest first: a backup half deleted is incomplete, never complete and broken
    for key in (keys.manifest, keys.verified, keys.archive, keys.archive + ".part"):
        dest.delete(key)
