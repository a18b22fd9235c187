"""Collect every CodeWeaver pod's container logs of a time range into one folder.

What ``kubectl logs --since`` does per pod, through the API: the pods are the ones labelled
as the shipped manifests label them, and each container's log becomes one file in the
output folder. Pod and container names come from the API server, so they are never used as
paths as they are: each file name is made of safe characters only, is unique in the folder,
and is created exclusively (nothing already there is overwritten).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from codeweaver.diagnostics.doctor_kubernetes import SELECTOR
from codeweaver.errors import InputError

__all__ = ["Collected", "LogSource", "collect", "log_file_name", "read_lines"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_STEM = 120
_BUFFER = 1 << 20


class LogSource(Protocol):
    namespace: str

    def pods(self, selector: str) -> list[dict[str, Any]]: ...
    def write_log(self, pod: str, container: str, since_seconds: int, out: BinaryIO) -> int: ...


@dataclass(frozen=True, slots=True)
class Collected:
    pod: str
    container: str
    file: str
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def log_file_name(pod: str, container: str) -> str:
    """``pod_container.log`` in safe characters: no separator, no leading dot, bounded length."""
    stem = "_".join(_UNSAFE.sub("-", part).strip(".-") or "unnamed" for part in (pod, container))
    return stem[:_MAX_STEM] + ".log"


def _unique(folder: Path, name: str, taken: set[str]) -> str:
    stem = name.removesuffix(".log")
    candidate, n = name, 1
    while candidate in taken or (folder / candidate).exists():
        n += 1
        candidate = f"{stem}.{n}.log"
    taken.add(candidate)
    return candidate


def _prepare(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--output {folder} is not a directory")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create --output {folder}: {exc.strerror or exc}") from exc


def _containers(pod: dict[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    return [str(c.get("name")) for c in spec.get("containers") or [] if c.get("name")]


def collect(source: LogSource, since_seconds: int, folder: Path) -> list[Collected]:
    """Write each CodeWeaver container's log of the last ``since_seconds`` into ``folder``."""
    pods = source.pods(SELECTOR)
    _prepare(folder)
    taken: set[str] = set()
    found: list[Collected] = []
    for pod in pods:
        pod_name = str((pod.get("metadata") or {}).get("name") or "")
        if not pod_name:
            continue
        for container in _containers(pod):
            name = _unique(folder, log_file_name(pod_name, container), taken)
            path = folder / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                size = source.write_log(pod_name, container, since_seconds, out)
            found.append(Collected(pod_name, container, name, size))
    return found


def read_lines(folder: Path, collected: list[Collected]) -> Iterator[bytes]:
    """The lines of every collected file, one file after the other."""
    for item in collected:
        with (folder / item.file).open("rb", buffering=_BUFFER) as fh:
            yield from fh
