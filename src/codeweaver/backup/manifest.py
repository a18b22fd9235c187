"""The backup manifest: what a backup holds, with a checksum for every file.

``manifest.json`` is uploaded beside the archive and written last, so a backup without
one is incomplete (interrupted) and never listed as a backup.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codeweaver.backup.filecopy import sha256_stream
from codeweaver.backup.throttle import Throttle
from codeweaver.errors import InputError

__all__ = [
    "COMPONENTS",
    "FORMAT",
    "SCHEMA_VERSION",
    "BackupManifest",
    "CollectionInfo",
    "FileEntry",
    "is_backup_id",
    "new_backup_id",
    "sha256_file",
    "validate_backup_id",
]

FORMAT = "codeweaver-backup"
SCHEMA_VERSION = 1
# ``metrics`` (a Prometheus export) is in the default set only when a Prometheus is set
COMPONENTS = ("collections", "manifests", "identity", "settings", "metrics")


def new_backup_id(now: datetime | None = None) -> str:
    """Sortable by time: ``20261128T210000Z-1a2b3c``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


_BACKUP_ID = re.compile(r"\d{8}T\d{6}Z-[0-9A-Za-z]{6}", re.ASCII)


def is_backup_id(name: str) -> bool:
    """Whether ``name`` is a backup id (``new_backup_id``'s form, a real UTC time): only
    such names at a destination are ever listed, pruned or read as backups."""
    if not _BACKUP_ID.fullmatch(name):
        return False
    try:
        datetime.strptime(name[:16], "%Y%m%dT%H%M%SZ")
    except ValueError:
        return False
    return True


def validate_backup_id(backup_id: str) -> str:
    if not is_backup_id(backup_id):
        raise InputError(f"invalid backup id {backup_id!r}: expected e.g. 20261128T210000Z-1a2b3c")
    return backup_id


def sha256_file(path: Path, throttle: Throttle | None = None) -> str:
    with path.open("rb") as fh:
        return sha256_stream(fh, throttle)


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    project: str
    store: str
    points: int
    files: int
    model: str | None
    dim: int | None
    probes: int


@dataclass(slots=True)
class BackupManifest:
    backup_id: str
    created_at: str
    codeweaver_version: str
    components: list[str]
    collections: list[CollectionInfo]
    files: list[FileEntry]
    archive: FileEntry
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION
    format: str = FORMAT

    @property
    def size_mb(self) -> float:
        return round(self.archive.size / 1_048_576, 3)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["size_mb"] = self.size_mb
        return data

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes, *, source: str) -> BackupManifest:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} manifest")
            return cls(
                backup_id=str(data["backup_id"]),
                created_at=str(data["created_at"]),
                codeweaver_version=str(data["codeweaver_version"]),
                components=[str(c) for c in data["components"]],
                collections=[CollectionInfo(**c) for c in data["collections"]],
                files=[FileEntry(**f) for f in data["files"]],
                archive=FileEntry(**data["archive"]),
                seconds=float(data.get("seconds", 0.0)),
                notes=[str(n) for n in data.get("notes", [])],
                schema_version=int(data["schema_version"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"backup manifest {source} is unreadable: {exc}") from exc

    def summary(self) -> dict[str, Any]:
        return {
            "backup_id": self.backup_id,
            "created_at": self.created_at,
            "codeweaver_version": self.codeweaver_version,
            "components": self.components,
            "projects": [c.project for c in self.collections],
            "points": sum(c.points for c in self.collections),
            "size_mb": self.size_mb,
            "seconds": self.seconds,
        }
