"""Retention: which backups to delete, decided from their ids, state and age.

Never deleted: the ``keep_last`` newest complete backups and the newest verified one.
Deleted: complete backups older than ``keep_days``, and incomplete ones (interrupted,
no manifest) older than an hour (a younger one may still be uploading). Only names that
are backup ids (``manifest.is_backup_id``) are ever listed by a destination, so anything
else sharing it (other folders, other prefixes of an S3 bucket) is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["INCOMPLETE_GRACE", "BackupEntry", "created_from_id", "plan_prune"]

INCOMPLETE_GRACE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class BackupEntry:
    backup_id: str
    created_at: datetime
    complete: bool
    verified: bool


def created_from_id(backup_id: str) -> datetime:
    try:
        return datetime.strptime(backup_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


def plan_prune(
    entries: list[BackupEntry], now: datetime, keep_days: int, keep_last: int
) -> list[str]:
    """The ids to delete, oldest first."""
    newest_first = sorted(entries, key=lambda e: (e.created_at, e.backup_id), reverse=True)
    complete = [e for e in newest_first if e.complete]
    protected = {e.backup_id for e in complete[:keep_last]}
    verified = [e for e in complete if e.verified]
    if verified:
        protected.add(verified[0].backup_id)
    cutoff = now - timedelta(days=keep_days)
    doomed: list[str] = []
    for entry in reversed(newest_first):
        if entry.backup_id in protected:
            continue
        limit = cutoff if entry.complete else now - INCOMPLETE_GRACE
        if entry.created_at < limit:
            doomed.append(entry.backup_id)
    return doomed
