"""Where backups live: a local folder (``file:///path``) or S3 (``s3://bucket/prefix``).

A destination stores objects by key; which keys a backup's objects have is ``layout``'s.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from codeweaver.backup.filecopy import copy_stream
from codeweaver.backup.manifest import is_backup_id
from codeweaver.backup.paths import private_dir
from codeweaver.backup.throttle import Throttle
from codeweaver.config import BackupSettings
from codeweaver.errors import BackupError, ConfigError

__all__ = [
    "ARCHIVE",
    "Destination",
    "FileDestination",
    "default_dest",
    "open_destination",
]

ARCHIVE = "backup.tar.gz"  # the local name of an archive being packed or checked


class Destination(Protocol):
    """Object storage for backups, keyed by ``folder/name`` paths."""

    uri: str

    def put_file(self, local: Path, key: str) -> None: ...

    def put_bytes(self, data: bytes, key: str) -> None: ...

    def get_file(self, key: str, local: Path) -> None:
        """Download ``key`` to ``local``; ``BackupError`` when it is missing."""
        ...

    def get_bytes(self, key: str) -> bytes | None:
        """The object's bytes, ``None`` when it does not exist."""
        ...

    def names(self, folder: str) -> list[str]:
        """The names of the objects and folders directly inside ``folder`` (``""``: the
        top), sorted; empty when there is no such folder."""
        ...

    def delete(self, key: str) -> None:
        """Delete one object; a missing one is no error."""
        ...

    def delete_folder(self, backup_id: str) -> None:
        """Delete the folder ``<backup_id>/`` and everything in it (a backup of the older
        layout); refused (``BackupError``) for a name that is no backup id."""
        ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileDestination:
    """Backups in a local folder; every object is written to a temporary name, fsynced
    and renamed, so a reader never sees a partial file. Objects are written 0600 in
    folders created 0700: a backup holds the identity store."""

    def __init__(self, root: Path, throttle: Throttle | None = None) -> None:
        self.root = root
        self.uri = root.as_uri()
        self._throttle = throttle

    def _path(self, key: str) -> Path:
        return self.root / key

    def _write(self, key: str, writer: object) -> None:
        dest = self._path(key)
        try:
            private_dir(dest.parent)
            tmp = dest.with_name(dest.name + ".part")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)  # a .part left by an older run may have other bits
            with os.fdopen(fd, "wb") as out:
                if isinstance(writer, bytes):
                    out.write(writer)
                else:
                    assert isinstance(writer, Path)
                    with writer.open("rb") as src:
                        copy_stream(src, out, self._throttle)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(dest)
            _fsync_dir(dest.parent)
        except OSError as exc:
            raise BackupError(f"cannot write {key} to {self.uri}: {exc}") from exc

    def put_file(self, local: Path, key: str) -> None:
        self._write(key, local)

    def put_bytes(self, data: bytes, key: str) -> None:
        self._write(key, data)

    def get_file(self, key: str, local: Path) -> None:
        src = self._path(key)
        try:
            with src.open("rb") as fh, local.open("wb") as out:
                copy_stream(fh, out, self._throttle)
        except FileNotFoundError:
            raise BackupError(f"{key} is missing from {self.uri}") from None
        except OSError as exc:
            raise BackupError(f"cannot read {key} from {self.uri}: {exc}") from exc

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BackupError(f"cannot read {key} from {self.uri}: {exc}") from exc

    def names(self, folder: str) -> list[str]:
        path = self._path(folder) if folder else self.root
        if not path.is_dir():
            return []
        return sorted(p.name for p in path.iterdir())

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise BackupError(f"cannot delete {key} from {self.uri}: {exc}") from exc

    def delete_folder(self, backup_id: str) -> None:
        if not is_backup_id(backup_id):
            raise BackupError(f"refusing to delete {backup_id!r} at {self.uri}: not a backup id")
        try:
            shutil.rmtree(self._path(backup_id), ignore_errors=False)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise BackupError(f"cannot delete backup {backup_id} from {self.uri}: {exc}") from exc


def default_dest(home: Path) -> str:
    return (home / "backups").as_uri()


def open_destination(
    uri: str | None, settings: BackupSettings, home: Path, throttle: Throttle | None = None
) -> Destination:
    """The destination for ``uri`` (default: the setting, else ``<home>/backups``); file
    transfers count against ``throttle`` when one is given."""
    target = uri or settings.dest or default_dest(home)
    parsed = urlparse(target)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ConfigError(f"invalid backup destination {target!r}: use file:///absolute/path")
        return FileDestination(Path(unquote(parsed.path)), throttle)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigError(f"invalid backup destination {target!r}: use s3://bucket/prefix")
        from codeweaver.adapters.s3_objects import S3Destination

        return S3Destination(
            bucket=parsed.netloc,
            prefix=parsed.path.strip("/"),
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            progress=throttle.consume if throttle is not None else None,
            is_backup_id=is_backup_id,
        )
    raise ConfigError(
        f"invalid backup destination {target!r}: use file:///path or s3://bucket/prefix"
    )
