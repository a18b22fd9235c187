"""Packing a staged backup folder into one ``tar.gz`` and unpacking it safely.

Extraction accepts only regular files and folders whose names stay inside the target:
absolute names, ``..`` parts, links of any kind, devices and FIFOs are refused, and the
whole archive is checked before anything is written. Members are packed as, and
extracted into, private files (0600) and folders (0700), whatever modes the archive
claims.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path
from typing import IO

from codeweaver.backup.filecopy import HashingWriter, copy_sparse
from codeweaver.backup.manifest import FileEntry, sha256_file
from codeweaver.backup.paths import contained, private_dir, safe_relative
from codeweaver.backup.throttle import Throttle
from codeweaver.errors import InputError

__all__ = ["check_files", "extract_safely", "list_files", "pack"]


def _regular_files(root: Path) -> list[Path]:
    out: list[Path] = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise InputError(f"refusing to back up a symbolic link: {path}")
        if path.is_file():
            out.append(path)
    return out


def list_files(root: Path, throttle: Throttle | None = None) -> list[FileEntry]:
    """Every regular file under ``root`` (relative POSIX names, sorted) with its checksum."""
    return [
        FileEntry(p.relative_to(root).as_posix(), sha256_file(p, throttle), p.stat().st_size)
        for p in _regular_files(root)
    ]


class _HashingReader:
    def __init__(self, raw: IO[bytes], throttle: Throttle | None) -> None:
        self._raw = raw
        self._throttle = throttle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.digest.update(data)
        if self._throttle is not None:
            self._throttle.consume_block(data)
        return data


def pack(
    root: Path, archive: Path, throttle: Throttle | None = None
) -> tuple[list[FileEntry], FileEntry]:
    """Write every regular file under ``root`` into ``archive`` (gzip'd tar, fsynced).

    Each file is read once: its checksum is taken as it is packed, and the archive's
    while it is written. Returns the files' entries and the archive's."""
    files: list[FileEntry] = []
    with archive.open("xb") as raw:
        out = HashingWriter(raw)
        with tarfile.open(fileobj=out, mode="w:gz", compresslevel=1) as tar:  # type: ignore[call-overload]
            for path in _regular_files(root):
                name = path.relative_to(root).as_posix()
                info = tar.gettarinfo(str(path), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o600
                with path.open("rb") as fh:
                    reader = _HashingReader(fh, throttle)
                    tar.addfile(info, reader)
                files.append(FileEntry(name, reader.digest.hexdigest(), info.size))
        raw.flush()
        os.fsync(raw.fileno())
    return files, FileEntry(archive.name, out.hexdigest(), out.size)


def _open_private(path: Path) -> IO[bytes]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


def _check_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = tar.getmembers()
    for m in members:
        safe_relative(m.name)
        if not (m.isfile() or m.isdir()):
            raise InputError(f"backup archive holds a link or special file: {m.name!r}")
    return members


def extract_safely(archive: Path, target: Path, throttle: Throttle | None = None) -> list[str]:
    """Extract ``archive`` into the empty or new folder ``target``; return the file names."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = _check_members(tar)
            private_dir(target)
            names: list[str] = []
            for m in members:
                dest = contained(target, m.name)
                if m.isdir():
                    private_dir(dest)
                    continue
                private_dir(dest.parent)
                src = tar.extractfile(m)
                if src is None:  # pragma: no cover - isfile() members always have data
                    raise InputError(f"unreadable member in backup archive: {m.name!r}")
                with src, _open_private(dest) as out:
                    copy_sparse(src, out, throttle)
                names.append(m.name)
            return names
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InputError(f"backup archive {archive.name} is damaged: {exc}") from exc


def check_files(
    root: Path,
    expected: list[FileEntry],
    extracted: list[str],
    throttle: Throttle | None = None,
) -> list[str]:
    """Problems found comparing extracted files with the manifest (empty: all good)."""
    problems: list[str] = []
    want = {e.path: e for e in expected}
    got = set(extracted)
    problems += [f"missing file {p}" for p in sorted(set(want) - got)]
    problems += [f"unexpected file {p}" for p in sorted(got - set(want))]
    for name in sorted(got & set(want)):
        entry, path = want[name], contained(root, name)
        if path.stat().st_size != entry.size:
            problems.append(f"size mismatch {name}: {path.stat().st_size} != {entry.size}")
        elif sha256_file(path, throttle) != entry.sha256:
            problems.append(f"checksum mismatch {name}")
    return problems
