"""The identity database: SQLite (default, in the data dir) or PostgreSQL (shared).

One SQL dialect for both (``?`` placeholders, rewritten to ``%s`` for psycopg), one
connection per thread, and one migration mechanism: numbered steps recorded in
``schema_migrations`` and applied under a lock (``BEGIN IMMEDIATE`` on SQLite, a
transaction-scoped advisory lock on PostgreSQL), so replicas can start together.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from codeweaver.errors import StoreError

__all__ = ["MIGRATIONS", "Database", "Migration", "Tx"]

Migration = tuple[int, tuple[str, ...]]
_LOCK_KEY = 0x636F6465  # advisory-lock key of the migration step

MIGRATIONS: tuple[Migration, ...] = (
    (
        1,
        (
            "CREATE TABLE users (name TEXT PRIMARY KEY, kind TEXT NOT NULL, "
            "password_hash TEXT, role TEXT NOT NULL, primary_tenant TEXT NOT NULL, "
            "disabled INTEGER NOT NULL DEFAULT 0, created_at DOUBLE PRECISION NOT NULL)",
            "CREATE TABLE user_tenants (user_name TEXT NOT NULL REFERENCES users(name) "
            "ON DELETE CASCADE, tenant TEXT NOT NULL, PRIMARY KEY (user_name, tenant))",
            "CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, user_name TEXT NOT NULL "
            "REFERENCES users(name) ON DELETE CASCADE, name TEXT NOT NULL, "
            "secret_hash TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, "
            "expires_at DOUBLE PRECISION, revoked_at DOUBLE PRECISION)",
            "CREATE TABLE refresh_tokens (token_hash TEXT PRIMARY KEY, family_id TEXT NOT NULL, "
            "user_name TEXT NOT NULL, issued_at DOUBLE PRECISION NOT NULL, "
            "expires_at DOUBLE PRECISION NOT NULL, used_at DOUBLE PRECISION, "
            "revoked_at DOUBLE PRECISION)",
            "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)",
            "CREATE TABLE revoked_tokens (jti TEXT PRIMARY KEY, "
            "expires_at DOUBLE PRECISION NOT NULL)",
            "CREATE TABLE login_failures (user_name TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)",
            "CREATE INDEX login_failures_user ON login_failures (user_name, at)",
            "CREATE TABLE lockouts (user_name TEXT PRIMARY KEY, "
            "until_at DOUBLE PRECISION NOT NULL)",
        ),
    ),
    (
        2,
        (
            # a session (a refresh-token family) records the API key it was made with;
            # its access tokens name it, and die with it
            "CREATE TABLE token_families (family_id TEXT PRIMARY KEY, user_name TEXT NOT NULL, "
            "key_id TEXT, created_at DOUBLE PRECISION NOT NULL, revoked_at DOUBLE PRECISION)",
            "CREATE INDEX token_families_key ON token_families (key_id)",
            "INSERT INTO token_families (family_id, user_name, key_id, created_at, revoked_at) "
            "SELECT family_id, MIN(user_name), NULL, MIN(issued_at), MAX(revoked_at) "
            "FROM refresh_tokens GROUP BY family_id",
            # one row per account: login attempts are counted before the password is
            # checked, by one conditional upsert
            "CREATE TABLE login_attempts (user_name TEXT PRIMARY KEY, "
            "window_start DOUBLE PRECISION NOT NULL, attempts INTEGER NOT NULL, "
            "locked_until DOUBLE PRECISION NOT NULL)",
            "INSERT INTO login_attempts (user_name, window_start, attempts, locked_until) "
            "SELECT user_name, 0, 0, MAX(until_at) FROM lockouts GROUP BY user_name",
            "DROP TABLE login_failures",
            "DROP TABLE lockouts",
        ),
    ),
)


class Tx(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...
    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class _Cursor:
    def __init__(self, cursor: Any, postgres: bool) -> None:
        self._cur = cursor
        self._pg = postgres

    def _run(self, sql: str, params: Sequence[Any]) -> None:
        self._cur.execute(sql.replace("?", "%s") if self._pg else sql, tuple(params))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._run(sql, params)
        return int(self._cur.rowcount)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self._run(sql, params)
        row = self._cur.fetchone()
        return tuple(row) if row is not None else None

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._run(sql, params)
        return [tuple(r) for r in self._cur.fetchall()]


class Database:
    """A connection per thread to SQLite at ``sqlite_path`` or to PostgreSQL at ``url``."""

    def __init__(self, sqlite_path: Path, url: str | None = None) -> None:
        self.postgres = bool(url)
        self._url = url
        self._path = sqlite_path
        self._local = threading.local()
        self._all: list[Any] = []
        self._guard = threading.Lock()

    @property
    def dialect(self) -> str:
        return "postgresql" if self.postgres else "sqlite"

    def _connect(self) -> Any:
        if self.postgres:
            import psycopg

            try:
                return psycopg.connect(self._url or "", autocommit=True, connect_timeout=10)
            except psycopg.Error as exc:
                # the URL may hold a password: never echo it
                raise StoreError(f"identity database unreachable: {type(exc).__name__}") from None
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # the data home
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA foreign_keys=ON")
        self._path.chmod(0o600)
        return conn

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self.postgres and (conn.closed or conn.broken):
            conn = None
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._guard:
                self._all.append(conn)
        return conn

    @contextmanager
    def tx(self, *, write: bool = False) -> Iterator[Tx]:
        """A transaction (``write`` takes SQLite's write lock up front)."""
        conn = self._conn()
        try:
            if self.postgres:
                with conn.transaction(), conn.cursor() as cur:
                    yield _Cursor(cur, True)
                return
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield _Cursor(conn.cursor(), False)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"identity database error: {exc}") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                raise StoreError(f"identity database error: {type(exc).__name__}") from None
            raise

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """Statements each on their own (autocommit), for cheap single-query reads."""
        conn = self._conn()
        try:
            if self.postgres:
                with conn.cursor() as cur:
                    yield _Cursor(cur, True)
            else:
                yield _Cursor(conn.cursor(), False)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"identity database error: {exc}") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                raise StoreError(f"identity database error: {type(exc).__name__}") from None
            raise

    def migrate(self, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
        """Apply the missing steps in order; the versions applied now."""
        applied: list[int] = []
        with self.tx(write=True) as tx:
            if self.postgres:
                tx.one("SELECT pg_advisory_xact_lock(?)", (_LOCK_KEY,))
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "applied_at DOUBLE PRECISION NOT NULL)"
            )
            done = {int(r[0]) for r in tx.all("SELECT version FROM schema_migrations")}
            for version, steps in sorted(migrations):
                if version in done:
                    continue
                for sql in steps:
                    tx.execute(sql)
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, time.time()),
                )
                applied.append(version)
        return applied

    def version(self) -> int:
        with self.tx() as tx:
            row = tx.one("SELECT MAX(version) FROM schema_migrations")
        return int(row[0]) if row and row[0] is not None else 0

    def close(self) -> None:
        with self._guard:
            for conn in self._all:
                try:
                    conn.close()
                except Exception:  # closing is best effort
                    continue
            self._all.clear()
        self._local = threading.local()
