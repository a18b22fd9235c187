"""Packing a staged backup folder into one ``tar.gz`` and unpacking it safely.

Extraction accepts only regular files and folders whose names stay inside the target:
absolute names, ``..`` parts, links of any kind, devices and FIFOs are refused, and the
whole archive is checked before anything is written.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path, PurePosixPath
from typing import IO

from codeweaver.errors import InputError
from codeweaver.ops.backup.manifest import FileEntry, sha256_file

__all__ = ["check_files", "extract_safely", "list_files", "pack"]


def list_files(root: Path) -> list[FileEntry]:
    """Every regular file under ``root`` (relative POSIX names, sorted) with its checksum."""
    out: list[FileEntry] = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise InputError(f"refusing to back up a symbolic link: {path}")
        if path.is_file():
            rel = path.relative_to(root).as_posix()
            out.append(FileEntry(rel, sha256_file(path), path.stat().st_size))
    return out


def pack(root: Path, files: list[FileEntry], archive: Path) -> None:
    """Write ``files`` (relative to ``root``) into ``archive`` as gzip'd tar, fsynced."""
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for entry in files:
            info = tar.gettarinfo(str(root / entry.path), arcname=entry.path)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with (root / entry.path).open("rb") as fh:
                tar.addfile(info, fh)
    with archive.open("rb") as fh:
        os.fsync(fh.fileno())


def _safe_name(name: str) -> str:
    pure = PurePosixPath(name)
    if pure.is_absolute() or not pure.parts or any(p in ("..", "") for p in pure.parts):
        raise InputError(f"unsafe path in backup archive: {name!r}")
    if "\\" in name or "\x00" in name:
        raise InputError(f"unsafe path in backup archive: {name!r}")
    return pure.as_posix()


_BLOCK = 1 << 16


def _copy_sparse(src: IO[bytes], out: IO[bytes]) -> None:
    """Copy, leaving holes for all-zero blocks (shard files are sparse on disk)."""
    while block := src.read(_BLOCK):
        if block.count(0) == len(block):
            out.seek(len(block), os.SEEK_CUR)
        else:
            out.write(block)
    out.truncate()


def extract_safely(archive: Path, target: Path) -> list[str]:
    """Extract ``archive`` into the empty or new folder ``target``; return the file names."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                _safe_name(m.name)
                if not (m.isfile() or m.isdir()):
                    raise InputError(f"backup archive holds a link or special file: {m.name!r}")
            target.mkdir(parents=True, exist_ok=True)
            root = target.resolve()
            names: list[str] = []
            for m in members:
                dest = (root / _safe_name(m.name)).resolve()
                if root not in dest.parents:
                    raise InputError(f"unsafe path in backup archive: {m.name!r}")
                if m.isdir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                if src is None:  # pragma: no cover - isfile() members always have data
                    raise InputError(f"unreadable member in backup archive: {m.name!r}")
                with src, dest.open("xb") as out:
                    _copy_sparse(src, out)
                names.append(_safe_name(m.name))
            return names
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InputError(f"backup archive {archive.name} is damaged: {exc}") from exc


def check_files(root: Path, expected: list[FileEntry], extracted: list[str]) -> list[str]:
    """Problems found comparing extracted files with the manifest (empty: all good)."""
    problems: list[str] = []
    want = {e.path: e for e in expected}
    got = set(extracted)
    problems += [f"missing file {p}" for p in sorted(set(want) - got)]
    problems += [f"unexpected file {p}" for p in sorted(got - set(want))]
    for name in sorted(got & set(want)):
        entry, path = want[name], root / name
        if path.stat().st_size != entry.size:
            problems.append(f"size mismatch {name}: {path.stat().st_size} != {entry.size}")
        elif sha256_file(path) != entry.sha256:
            problems.append(f"checksum mismatch {name}")
    return problems
