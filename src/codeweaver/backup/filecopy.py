"""Rate-capped file copies that keep holes, and checksums computed while streaming.

Shard files are sparse on disk (preallocated segments and logs, mostly holes); copies
read and write only their data, and the rate cap counts data, not holes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path
from typing import IO

from codeweaver.backup.throttle import Throttle
from codeweaver.errors import InputError

__all__ = [
    "BLOCK",
    "HashingWriter",
    "copy_file",
    "copy_sparse",
    "copy_stream",
    "copy_tree",
    "sha256_stream",
]

BLOCK = 1 << 20
_HOLE = 1 << 16  # the smallest all-zero run left as a hole


def copy_sparse(src: IO[bytes], out: IO[bytes], throttle: Throttle | None = None) -> None:
    """Copy ``src`` to ``out`` (both at their start), leaving holes for all-zero blocks."""
    while block := src.read(_HOLE):
        if block.count(0) == len(block):
            out.seek(len(block), os.SEEK_CUR)
        else:
            out.write(block)
            if throttle is not None:
                throttle.consume(len(block))
    out.truncate()


def copy_stream(src: IO[bytes], out: IO[bytes], throttle: Throttle | None = None) -> None:
    """Copy ``src`` to ``out`` as it is (no holes), counting against ``throttle``."""
    while block := src.read(BLOCK):
        out.write(block)
        if throttle is not None:
            throttle.consume(len(block))


def _data_extents(fd: int, size: int) -> list[tuple[int, int]]:
    """The ``(start, end)`` ranges of ``fd`` holding data (the whole file where the file
    system cannot tell data from holes)."""
    extents: list[tuple[int, int]] = []
    pos = 0
    try:
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # only a hole is left
                    break
                raise
            end = os.lseek(fd, start, os.SEEK_HOLE)
            extents.append((start, end))
            pos = end
    except (AttributeError, OSError):
        return [(0, size)]
    return extents


def copy_file(src: Path, dst: Path, throttle: Throttle | None = None) -> None:
    """Copy the regular file ``src`` to the new file ``dst``: only its data is read and
    written (holes stay holes, and are not counted against ``throttle``)."""
    with src.open("rb", buffering=0) as fh, dst.open("xb", buffering=0) as out:
        size = os.fstat(fh.fileno()).st_size
        for start, end in _data_extents(fh.fileno(), size):
            fh.seek(start)
            out.seek(start)
            left = end - start
            while left > 0 and (block := fh.read(min(BLOCK, left))):
                left -= len(block)
                if block.count(0) == len(block):  # allocated zeros become a hole too
                    out.seek(len(block), os.SEEK_CUR)
                    continue
                out.write(block)
                if throttle is not None:
                    throttle.consume(len(block))
        out.truncate(size)


def copy_tree(src: Path, dst: Path, throttle: Throttle | None = None) -> None:
    """Copy the folder ``src`` to the new folder ``dst`` (regular files and folders only;
    modification times kept)."""
    dst.mkdir(parents=True)
    for path in sorted(src.rglob("*")):
        target = dst / path.relative_to(src)
        if path.is_symlink():
            raise InputError(f"refusing to copy a symbolic link: {path}")
        if path.is_dir():
            target.mkdir(exist_ok=True)
        elif path.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            copy_file(path, target, throttle)
            shutil.copystat(path, target)


def sha256_stream(fh: IO[bytes], throttle: Throttle | None = None) -> str:
    digest = hashlib.sha256()
    while block := fh.read(BLOCK):
        digest.update(block)
        if throttle is not None:
            throttle.consume_block(block)
    return digest.hexdigest()


class HashingWriter:
    """A write-only file wrapper that checksums and counts what passes through."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        self.size += len(data)
        return self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()

    def hexdigest(self) -> str:
        return self._digest.hexdigest()
