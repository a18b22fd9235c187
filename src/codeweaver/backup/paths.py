"""Paths taken from a backup, and the private files and folders backups are made of.

A backup comes from storage someone else may write to, so every name read from a
manifest or an archive is checked like user input (``safe_relative``) and every path
built from one is resolved and must stay inside its base folder (``contained``).
Everything a backup or a restore writes is private to the server's user: folders 0700,
files 0600 (a backup holds the identity store, its password hashes and API keys).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from codeweaver.errors import InputError

__all__ = ["contained", "private_dir", "safe_relative", "write_private"]


def safe_relative(name: str, what: str = "path in backup archive") -> str:
    """``name``, a normalized relative POSIX path (no ``..``, ``.``, empty or absolute
    parts, no backslash or NUL), or ``InputError``."""
    pure = PurePosixPath(name)
    odd = "\\" in name or "\x00" in name or pure.as_posix() != name
    if odd or pure.is_absolute() or not pure.parts or ".." in pure.parts:
        raise InputError(f"unsafe {what}: {name!r}")
    return name


def contained(base: Path, *parts: str) -> Path:
    """``base / parts`` resolved (symbolic links followed); refused unless strictly inside
    the resolved ``base``."""
    root = base.resolve()
    path = root.joinpath(*parts).resolve()
    if root not in path.parents:
        raise InputError(f"unsafe path from a backup: {'/'.join(parts)!r} leaves {base}")
    return path


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents as 0700 folders (existing ones are left
    as they are)."""
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        folder.chmod(0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to the new or replaced file ``path`` with mode 0600."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(fd, "wb") as out:
        out.write(data)
