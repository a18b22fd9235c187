"""Popular queries per tenant and project, for cache warming (SQLite under the data dir).

Searches are counted in memory and written in batches, so recording costs a search
no disk write.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from codeweaver.errors import IndexingError
from codeweaver.search.result_cache import request_dict
from codeweaver.search.service import SearchRequest

__all__ = ["PopularQueries"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS popular (
    tenant TEXT NOT NULL,
    project TEXT NOT NULL,
    request TEXT NOT NULL,
    count INTEGER NOT NULL,
    last_at REAL NOT NULL,
    PRIMARY KEY (tenant, project, request)
);
"""


class PopularQueries:
    def __init__(self, path: Path, flush_every: int = 50, flush_seconds: float = 5.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=2000")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise IndexingError(f"query statistics {path} are unreadable: {exc}") from exc
        self._pending: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()
        self._flush_every = flush_every
        self._flush_seconds = flush_seconds
        self._last_flush = time.monotonic()
        self._closed = False

    def record(self, tenant: str, project: str, request: SearchRequest) -> None:
        ident = json.dumps(request_dict(request), sort_keys=True)
        with self._lock:
            self._pending[(tenant, project, ident)] += 1
            due = (
                sum(self._pending.values()) >= self._flush_every
                or time.monotonic() - self._last_flush >= self._flush_seconds
            )
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            rows, self._pending = list(self._pending.items()), Counter()
            self._last_flush = time.monotonic()
            if not rows or self._closed:
                return
            now = time.time()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO popular VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                    "count = count + excluded.count, last_at = excluded.last_at",
                    [(t, p, r, n, now) for (t, p, r), n in rows],
                )
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise

    def top(
        self, project: str, n: int, tenant: str | None = None
    ) -> list[tuple[str, SearchRequest]]:
        """The ``n`` most frequent searches of ``project`` (of one tenant, or all) as
        ``(tenant, request)``, most frequent first."""
        self.flush()
        sql = "SELECT tenant, request FROM popular WHERE project = ?"
        args: list[Any] = [project]
        if tenant is not None:
            sql += " AND tenant = ?"
            args.append(tenant)
        sql += " ORDER BY count DESC, last_at DESC LIMIT ?"
        rows = self._db.execute(sql, [*args, n]).fetchall()
        return [(str(t), SearchRequest(**json.loads(r))) for t, r in rows]

    def report(self, project: str, n: int) -> list[dict[str, Any]]:
        """The ``n`` most frequent searches of ``project`` with tenant and count."""
        self.flush()
        rows = self._db.execute(
            "SELECT tenant, request, count FROM popular WHERE project = ? "
            "ORDER BY count DESC, last_at DESC LIMIT ?",
            (project, n),
        ).fetchall()
        return [{"tenant": t, "query": json.loads(r)["query"], "count": int(c)} for t, r, c in rows]

    def forget(self, project: str | None = None) -> int:
        self.flush()
        with self._lock:
            if project is None:
                cur = self._db.execute("DELETE FROM popular")
            else:
                cur = self._db.execute("DELETE FROM popular WHERE project = ?", (project,))
            return cur.rowcount

    def close(self) -> None:
        """Write what is pending and close; later calls (and records) do nothing."""
        self.flush()
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()
