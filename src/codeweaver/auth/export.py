"""A logical export of the identity store, and its import: every table the migrations
create, as JSON rows, on SQLite or PostgreSQL alike (backups and restores).

The tables are read off ``db.MIGRATIONS`` (the one place the schema is written), and
ordered so that a table comes after every table it references: inserts run in that
order, deletes in reverse. Values keep their SQL types exactly: ``INTEGER`` as JSON
integers, ``DOUBLE PRECISION`` timestamps as JSON numbers (Python's shortest round-trip
repr, so no bit is lost), ``TEXT`` as strings, ``NULL`` as ``null``; a column of any
other type stops the export (and the import) rather than being converted loosely.

An export is one snapshot (a ``REPEATABLE READ, READ ONLY`` transaction on PostgreSQL,
one read transaction on SQLite). An import replaces every row in one transaction, only
into a store at the export's schema version, and counts each table before it commits.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from codeweaver.auth.db import MIGRATIONS, Database, Migration, Tx
from codeweaver.errors import StoreError

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "export_identity",
    "identity_tables",
    "import_identity",
    "latest_version",
    "live_version",
    "schema_problem",
    "validate_export",
]

EXPORT_FORMAT = "codeweaver-identity-export"
EXPORT_VERSION = 1
MIGRATIONS_TABLE = "schema_migrations"

_NAME = r"([A-Za-z_][A-Za-z0-9_]*)"
_CREATE = re.compile(rf"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_NAME}", re.I)
_DROP = re.compile(rf"^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?{_NAME}", re.I)
_ALTER = re.compile(rf"^\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?{_NAME}", re.I)
_RENAME = re.compile(rf"\bRENAME\s+TO\s+{_NAME}", re.I)
_REFERENCES = re.compile(rf"\bREFERENCES\s+{_NAME}", re.I)

# declared column type (lower case) -> how it travels in JSON
_KINDS = {
    "integer": "integer",
    "int": "integer",
    "bigint": "integer",
    "smallint": "integer",
    "double precision": "real",
    "real": "real",
    "float": "real",
    "text": "text",
    "character varying": "text",
    "varchar": "text",
}
_INSERT_PARAMS = 900  # placeholders per INSERT (under SQLite's oldest limit, 999)


def latest_version(migrations: Sequence[Migration] = MIGRATIONS) -> int:
    return max((v for v, _ in migrations), default=0)


def identity_tables(
    migrations: Sequence[Migration] = MIGRATIONS, version: int | None = None
) -> tuple[str, ...]:
    """The tables the migrations (up to ``version``) leave, parents before children."""
    order: list[str] = []
    refs: dict[str, set[str]] = {}
    for number, steps in sorted(migrations):
        if version is not None and number > version:
            break
        for sql in steps:
            if m := _CREATE.match(sql):
                table = m[1].lower()
                order.append(table)
                refs[table] = {r.lower() for r in _REFERENCES.findall(sql)} - {table}
            elif m := _DROP.match(sql):
                table = m[1].lower()
                order.remove(table)
                refs.pop(table)
            elif (m := _ALTER.match(sql)) and m[1].lower() in refs:
                table = m[1].lower()
                if r := _RENAME.search(sql):
                    new = r[1].lower()
                    order[order.index(table)] = new
                    refs[new] = refs.pop(table)
                    for deps in refs.values():
                        if table in deps:
                            deps.discard(table)
                            deps.add(new)
                    table = new
                refs[table] |= {r.lower() for r in _REFERENCES.findall(sql)} - {table}
    return tuple(_parents_first(order, refs))


def _parents_first(order: list[str], refs: dict[str, set[str]]) -> list[str]:
    """Creation order, except that a table waits for the tables it references."""
    done: list[str] = []
    pending = list(order)
    while pending:
        ready = next((t for t in pending if not refs[t] & set(pending)), None)
        if ready is None:
            raise StoreError(f"identity tables reference each other in a cycle: {pending}")
        done.append(ready)
        pending.remove(ready)
    return done


def _kind(table: str, column: str, declared: str) -> str:
    kind = _KINDS.get(" ".join(declared.lower().split()))
    if kind is None:
        raise StoreError(
            f"identity column {table}.{column} has type {declared!r}, which the identity "
            "export does not carry yet"
        )
    return kind


def _value(kind: str, value: Any, where: str) -> Any:
    if value is None:
        return None
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "real" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "text" and isinstance(value, str):
        return value
    raise StoreError(f"{where} holds {type(value).__name__} {value!r}, expected {kind}")


def live_version(tx: Tx, postgres: bool) -> int:
    """The schema version of the database behind ``tx`` (0: no CodeWeaver schema)."""
    if postgres:
        row = tx.one(f"SELECT to_regclass('{MIGRATIONS_TABLE}') IS NOT NULL")
    else:
        row = tx.one(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?",
            (MIGRATIONS_TABLE,),
        )
    if not row or not row[0]:
        return 0
    top = tx.one(f"SELECT MAX(version) FROM {MIGRATIONS_TABLE}")
    return int(top[0]) if top and top[0] is not None else 0


def _columns(tx: Tx, postgres: bool, table: str) -> list[tuple[str, str]]:
    if postgres:
        rows = tx.all(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? "
            "ORDER BY ordinal_position",
            (table,),
        )
    else:
        rows = [(r[1], r[2]) for r in tx.all(f'PRAGMA table_info("{table}")')]
    if not rows:
        raise StoreError(f"the identity database has no table {table!r}")
    return [(str(name), str(declared)) for name, declared in rows]


def schema_problem(backup_version: int, live: int) -> str | None:
    """Why an export at ``backup_version`` cannot go into a store at ``live`` (or None)."""
    if backup_version == live:
        return None
    if backup_version > live:
        return (
            f"the backup's identity schema is version {backup_version}, newer than the live "
            f"identity store's version {live}: restore it with the CodeWeaver release "
            "that made the backup"
        )
    return (
        f"the backup's identity schema is version {backup_version}, older than the live "
        f"identity store's version {live}; schema migrations only go forward, so restore "
        "it with the CodeWeaver release that made the backup (into a store at that version)"
    )


def export_identity(db: Database) -> dict[str, Any]:
    """Every identity table's rows, the schema version and the backend, as one snapshot."""
    with db.tx() as tx:
        if db.postgres:
            tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        version = live_version(tx, db.postgres)
        if version == 0:
            raise StoreError("the identity database holds no CodeWeaver schema yet")
        if version > latest_version():
            raise StoreError(
                f"the identity database is at schema version {version}, newer than this "
                f"CodeWeaver's {latest_version()}: back it up with the newer release"
            )
        applied = [int(r[0]) for r in tx.all(f"SELECT version FROM {MIGRATIONS_TABLE}")]
        tables = []
        for table in identity_tables(version=version):
            cols = _columns(tx, db.postgres, table)
            kinds = [_kind(table, name, declared) for name, declared in cols]
            names = ", ".join(f'"{name}"' for name, _ in cols)
            order = ", ".join(str(i + 1) for i in range(len(cols)))
            rows = tx.all(f'SELECT {names} FROM "{table}" ORDER BY {order}')
            tables.append(
                {
                    "name": table,
                    "columns": [name for name, _ in cols],
                    "types": kinds,
                    "count": len(rows),
                    "rows": [
                        [
                            _value(k, v, f"{table}.{c}")
                            for (c, _), k, v in zip(cols, kinds, row, strict=True)
                        ]
                        for row in rows
                    ],
                }
            )
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_VERSION,
        "backend": db.dialect,
        "schema_version": version,
        "migrations": sorted(applied),
        "exported_at": time.time(),
        "tables": tables,
    }


def validate_export(data: Any) -> dict[str, Any]:
    """``data`` checked as an identity export of a schema this CodeWeaver knows."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise StoreError(f"not a {EXPORT_FORMAT} file")
    fmt = data.get("format_version")
    if not isinstance(fmt, int) or fmt > EXPORT_VERSION:
        raise StoreError(f"identity export format {fmt!r} is not supported (<= {EXPORT_VERSION})")
    version = data.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise StoreError(f"identity export has no valid schema version ({version!r})")
    if version > latest_version():
        raise StoreError(
            f"the backup's identity schema is version {version}, newer than this "
            f"CodeWeaver's {latest_version()}: restore it with the release that made it"
        )
    tables = data.get("tables")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise StoreError("identity export has no table list")
    known = identity_tables(version=version)
    names = [t.get("name") for t in tables]
    if sorted(map(str, names)) != sorted(known):
        raise StoreError(
            f"identity export holds tables {names}, schema version {version} has {list(known)}"
        )
    for table in tables:
        cols, kinds, rows = table.get("columns"), table.get("types"), table.get("rows")
        ok = (
            isinstance(cols, list)
            and isinstance(kinds, list)
            and len(cols) == len(kinds)
            and isinstance(rows, list)
            and all(isinstance(r, list) and len(r) == len(cols) for r in rows)
            and table.get("count") == len(rows)
        )
        if not ok:
            raise StoreError(f"identity export table {table.get('name')!r} is malformed")
    return data


def _insert(tx: Tx, table: str, columns: list[str], rows: Iterable[list[Any]]) -> None:
    names = ", ".join(f'"{c}"' for c in columns)
    one = "(" + ", ".join("?" for _ in columns) + ")"
    per = max(1, _INSERT_PARAMS // max(1, len(columns)))
    batch: list[list[Any]] = []
    first = 1

    def flush() -> None:
        sql = f'INSERT INTO "{table}" ({names}) VALUES ' + ", ".join(one for _ in batch)
        try:
            tx.execute(sql, [v for row in batch for v in row])
        except Exception as exc:
            diag = getattr(getattr(exc, "diag", None), "message_primary", None)
            why = diag or (str(exc) if type(exc).__module__ == "sqlite3" else type(exc).__name__)
            last = first + len(batch) - 1
            raise StoreError(
                f"the database refused the exported rows {first}-{last} of table {table!r}: {why}"
            ) from None

    for row in rows:
        batch.append(row)
        if len(batch) == per:
            flush()
            first += len(batch)
            batch = []
    if batch:
        flush()


def import_identity(db: Database, data: Mapping[str, Any]) -> dict[str, int]:
    """Replace every identity row with the export's, in one transaction; the rows per
    table. Any problem (schema version, columns, a refused row, a count) rolls it all
    back. The store is first migrated as every CodeWeaver start does."""
    export = validate_export(dict(data))
    db.migrate()
    by_name = {t["name"]: t for t in export["tables"]}
    tables = identity_tables(version=export["schema_version"])
    counts: dict[str, int] = {}
    with db.tx(write=True) as tx:
        if db.postgres:
            # writers (other replicas) wait until the commit; readers see the old rows
            tx.execute("SET LOCAL lock_timeout = '30s'")
            listed = ", ".join(f'"{t}"' for t in (MIGRATIONS_TABLE, *tables))
            tx.execute(f"LOCK TABLE {listed} IN EXCLUSIVE MODE")
        problem = schema_problem(export["schema_version"], live_version(tx, db.postgres))
        if problem:
            raise StoreError(problem)
        plans = []
        for table in tables:
            cols = _columns(tx, db.postgres, table)
            entry = by_name[table]
            if sorted(entry["columns"]) != sorted(name for name, _ in cols):
                raise StoreError(
                    f"identity table {table!r} has columns {[n for n, _ in cols]}, "
                    f"the export {entry['columns']}"
                )
            kinds = {name: _kind(table, name, declared) for name, declared in cols}
            rows = [
                [
                    _value(kinds[c], v, f"exported row {i + 1} of {table}.{c}")
                    for c, v in zip(entry["columns"], row, strict=True)
                ]
                for i, row in enumerate(entry["rows"])
            ]
            plans.append((table, list(entry["columns"]), rows))
        for table in reversed(tables):
            tx.execute(f'DELETE FROM "{table}"')
        for table, columns, rows in plans:
            _insert(tx, table, columns, rows)
        for table, _, rows in plans:
            row = tx.one(f'SELECT COUNT(*) FROM "{table}"')
            counts[table] = int(row[0]) if row else -1
            if counts[table] != len(rows):
                raise StoreError(
                    f"identity table {table!r} holds {counts[table]} rows after the import, "
                    f"the export {len(rows)}"
                )
    return counts
