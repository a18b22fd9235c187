"""Swapping restored data into place, all or nothing, across a crash.

Before the first rename a journal (``<home>/.restore/journal.json``) lists every swap:
the live path, the verified new copy and where the live data is parked. Each swap is
two renames on one file system. Once all are done the journal is marked ``done`` and
the parked data deleted. A process killed in between leaves the journal ``swapping``;
``rollback_interrupted`` (run by the next backup command) puts the parked data back.

Changes outside the data directory (Qdrant server collections, see ``server_swap``) are
listed in the same journal under ``collections`` and applied after the renames by a
``CollectionSwapper``; a rollback undoes them first, and ``done`` finishes them (deletes
their parked data) along with the files.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from codeweaver.errors import BackupError, CodeWeaverError

__all__ = ["CollectionSwapper", "Swap", "journal_path", "rollback_interrupted", "swap_in"]


@dataclass(frozen=True, slots=True)
class Swap:
    """Move ``live`` to ``old`` (if it ``existed``), then ``new`` to ``live`` (if ``new``
    exists: a swap without a new file only parks the live one, e.g. a SQLite ``-wal``)."""

    live: str
    new: str
    old: str
    existed: bool


class CollectionSwapper(Protocol):
    """Applies the journal's ``collections`` entries, undoes them (from whatever state a
    failure or crash left) and, once the restore is done, deletes their parked data."""

    def apply(self, entries: list[dict[str, Any]]) -> None: ...

    def undo(self, entries: list[dict[str, Any]]) -> None: ...

    def finish(self, entries: list[dict[str, Any]]) -> None: ...


def journal_path(home: Path) -> Path:
    return home / ".restore" / "journal.json"


def _write_journal(
    path: Path,
    state: str,
    swaps: list[Swap],
    work: Path,
    collections: list[dict[str, Any]] | None = None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    data = {
        "state": state,
        "work": str(work),
        "swaps": [asdict(s) for s in swaps],
        "collections": collections or [],
    }
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _undo(swap: Swap) -> None:
    live, new, old = Path(swap.live), Path(swap.new), Path(swap.old)
    if swap.existed:
        if not old.exists():
            return  # never moved: live is still the previous data
        if live.exists():
            new.parent.mkdir(parents=True, exist_ok=True)
            if new.exists():
                _remove(live)
            else:
                os.rename(live, new)
        os.rename(old, live)
    elif live.exists() and not new.exists():
        new.parent.mkdir(parents=True, exist_ok=True)
        os.rename(live, new)


def rollback_interrupted(home: Path, collections: CollectionSwapper | None = None) -> list[str]:
    """Finish or undo a restore that was killed; return what was done (for the log).

    The journal stays (and the next call tries again) when its collections cannot be
    rolled back or cleaned up, e.g. while the Qdrant server is unreachable."""
    path = journal_path(home)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        swaps = [Swap(**s) for s in data["swaps"]]
        work = Path(data["work"])
        entries: list[dict[str, Any]] = list(data.get("collections") or [])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"restore journal {path} is unreadable: {exc}") from exc
    if entries and collections is None:
        raise BackupError(
            "an interrupted restore changed Qdrant server collections; run the backup "
            "command again with qdrant.mode 'server' (same qdrant.url) to complete it"
        )
    done: list[str] = []
    if data.get("state") != "done":
        try:
            if collections is not None and entries:
                collections.undo(entries)
            for swap in reversed(swaps):
                _undo(swap)
        except (OSError, CodeWeaverError) as exc:
            raise BackupError(f"cannot roll back the interrupted restore: {exc}") from exc
        done.append(f"rolled back an interrupted restore ({len(swaps) + len(entries)} item(s))")
    elif collections is not None and entries:
        try:
            collections.finish(entries)
        except CodeWeaverError as exc:
            raise BackupError(f"cannot delete the data a restore replaced: {exc}") from exc
    shutil.rmtree(work, ignore_errors=True)
    path.unlink(missing_ok=True)
    return done


def swap_in(
    home: Path,
    swaps: list[Swap],
    work: Path,
    check: Callable[[], list[str]] | None = None,
    *,
    collections: list[dict[str, Any]] | None = None,
    swapper: CollectionSwapper | None = None,
) -> list[str]:
    """Move every ``new`` to ``live``, parking the previous data, then apply the
    ``collections`` swaps with ``swapper``; all or nothing.

    ``check`` runs once everything is in place; any problem it returns (or error it
    raises) rolls it all back. Returns notes on cleanup left for the next run."""
    entries = collections or []
    if entries and swapper is None:
        raise BackupError("collection swaps need a swapper")
    path = journal_path(home)
    _write_journal(path, "swapping", swaps, work, entries)
    try:
        for swap in swaps:
            live, new, old = Path(swap.live), Path(swap.new), Path(swap.old)
            live.parent.mkdir(parents=True, exist_ok=True)
            if swap.existed:
                old.parent.mkdir(parents=True, exist_ok=True)
                os.rename(live, old)
            if new.exists():
                os.rename(new, live)
        if swapper is not None and entries:
            swapper.apply(entries)
    except (OSError, CodeWeaverError) as exc:
        rollback_interrupted(home, swapper)
        raise BackupError(f"could not swap the restored data in (rolled back): {exc}") from exc
    try:
        problems = check() if check is not None else []
    except CodeWeaverError as exc:
        problems = [str(exc)]
    if problems:
        rollback_interrupted(home, swapper)
        raise BackupError(f"the swapped-in data failed its check (rolled back): {problems[0]}")
    _write_journal(path, "done", swaps, work, entries)
    try:
        rollback_interrupted(home, swapper)  # state done: only cleans up the parked data
    except BackupError as exc:
        return [f"the previous data is left for the next backup command to delete: {exc}"]
    return []
