"""Per-project manifest: which file content is in the store, and how the last run went.

SQLite (stdlib) in WAL mode: every commit is durable and a killed run leaves a
consistent manifest. A file is recorded only after all of its points are stored, so a
crashed run simply redoes the files it had not recorded.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeweaver.errors import IndexingError

__all__ = ["FileRecord", "Manifest"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    path TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class FileRecord:
    path: str
    sha256: str
    size: int
    mtime_ns: int
    chunks: int


class Manifest:
    """Open with ``Manifest(path)``; close with ``close()`` or use as a context manager."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise IndexingError(f"manifest {path} is unreadable: {exc}") from exc

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    # files -------------------------------------------------------------------------
    def files(self) -> dict[str, FileRecord]:
        rows = self._db.execute("SELECT path, sha256, size, mtime_ns, chunks FROM files")
        return {r[0]: FileRecord(*r) for r in rows}

    def record_files(self, records: Iterable[FileRecord]) -> None:
        now = time.time()
        rows = [(r.path, r.sha256, r.size, r.mtime_ns, r.chunks, now) for r in records]
        with self._tx():
            self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", rows)
            self._db.executemany("DELETE FROM failures WHERE path = ?", [(r[0],) for r in rows])

    def forget_files(self, paths: Iterable[str]) -> None:
        rows = [(p,) for p in paths]
        with self._tx():
            self._db.executemany("DELETE FROM files WHERE path = ?", rows)
            self._db.executemany("DELETE FROM failures WHERE path = ?", rows)

    def clear(self) -> None:
        with self._tx():
            self._db.execute("DELETE FROM files")
            self._db.execute("DELETE FROM failures")

    def chunk_total(self) -> int:
        row = self._db.execute("SELECT COALESCE(SUM(chunks), 0) FROM files").fetchone()
        return int(row[0])

    # failures ----------------------------------------------------------------------
    def record_failures(self, failures: Iterable[tuple[str, str]]) -> None:
        now = time.time()
        with self._tx():
            self._db.executemany(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?)",
                [(p, r, now) for p, r in failures],
            )

    def failures(self) -> list[tuple[str, str]]:
        rows = self._db.execute("SELECT path, reason FROM failures ORDER BY path")
        return [(str(p), str(r)) for p, r in rows]

    def replace_failures(self, failures: Iterable[tuple[str, str]]) -> None:
        with self._tx():
            self._db.execute("DELETE FROM failures")
        self.record_failures(failures)

    # meta ----------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set(self, **values: Any) -> None:
        with self._tx():
            self._db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    def meta(self) -> dict[str, Any]:
        rows = self._db.execute("SELECT key, value FROM meta")
        return {k: json.loads(v) for k, v in rows}

    def _tx(self) -> _Tx:
        return _Tx(self._db)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
