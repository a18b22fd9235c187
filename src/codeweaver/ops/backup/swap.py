"""Swapping restored data into place, all or nothing, across a crash.

Before the first rename a journal (``<home>/.restore/journal.json``) lists every swap:
the live path, the verified new copy and where the live data is parked. Each swap is
two renames on one file system. Once all are done the journal is marked ``done`` and
the parked data deleted. A process killed in between leaves the journal ``swapping``;
``rollback_interrupted`` (run by the next backup command) puts the parked data back.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from codeweaver.errors import BackupError

__all__ = ["Swap", "journal_path", "rollback_interrupted", "swap_in"]


@dataclass(frozen=True, slots=True)
class Swap:
    """Move ``live`` to ``old`` (if it ``existed``), then ``new`` to ``live`` (if ``new``
    exists: a swap without a new file only parks the live one, e.g. a SQLite ``-wal``)."""

    live: str
    new: str
    old: str
    existed: bool


def journal_path(home: Path) -> Path:
    return home / ".restore" / "journal.json"


def _write_journal(path: Path, state: str, swaps: list[Swap], work: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump({"state": state, "work": str(work), "swaps": [asdict(s) for s in swaps]}, fh)
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


def rollback_interrupted(home: Path) -> list[str]:
    """Finish or undo a restore that was killed; return what was done (for the log)."""
    path = journal_path(home)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        swaps = [Swap(**s) for s in data["swaps"]]
        work = Path(data["work"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"restore journal {path} is unreadable: {exc}") from exc
    done: list[str] = []
    if data.get("state") != "done":
        try:
            for swap in reversed(swaps):
                _undo(swap)
        except OSError as exc:
            raise BackupError(f"cannot roll back the interrupted restore: {exc}") from exc
        done.append(f"rolled back an interrupted restore ({len(swaps)} item(s))")
    shutil.rmtree(work, ignore_errors=True)
    path.unlink(missing_ok=True)
    return done


def swap_in(
    home: Path,
    swaps: list[Swap],
    work: Path,
    check: Callable[[], list[str]] | None = None,
) -> None:
    """Move every ``new`` to ``live``, parking the previous data; all or nothing.

    ``check`` runs once everything is in place; any problem it returns rolls it all back.
    """
    path = journal_path(home)
    _write_journal(path, "swapping", swaps, work)
    try:
        for swap in swaps:
            live, new, old = Path(swap.live), Path(swap.new), Path(swap.old)
            live.parent.mkdir(parents=True, exist_ok=True)
            if swap.existed:
                old.parent.mkdir(parents=True, exist_ok=True)
                os.rename(live, old)
            if new.exists():
                os.rename(new, live)
    except OSError as exc:
        rollback_interrupted(home)
        raise BackupError(f"could not swap the restored data in (rolled back): {exc}") from exc
    problems = check() if check is not None else []
    if problems:
        rollback_interrupted(home)
        raise BackupError(f"the swapped-in data failed its check (rolled back): {problems[0]}")
    _write_journal(path, "done", swaps, work)
    rollback_interrupted(home)  # state done: only cleans up the parked data
