"""The ``identity`` component when the identity store is (or was) PostgreSQL.

Backup: with ``database.url`` set, the store is exported as one snapshot to
``identity/identity-export.json`` (see ``auth.export``); a SQLite store is still
copied as ``identity/identity.db`` (``create``). Restore: a SQLite backup into a SQLite
store is a file swap (``restore``); every other pairing — a PostgreSQL export into
PostgreSQL or SQLite, a SQLite file into PostgreSQL (exported from the restored copy
first) — is imported in one transaction, checked before anything is swapped, and run
last, once the swapped-in collections passed their checks, so a refused import rolls
the whole restore back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeweaver.auth.db import Database
from codeweaver.auth.export import (
    export_identity,
    import_identity,
    latest_version,
    live_version,
    schema_problem,
    validate_export,
)
from codeweaver.auth.setup import IDENTITY_DB, identity_database
from codeweaver.config import Settings
from codeweaver.errors import BackupError, CodeWeaverError

__all__ = [
    "IDENTITY_EXPORT",
    "IdentityImport",
    "identity_backend",
    "plan_identity_import",
    "stage_identity_export",
    "then_import_identity",
]

IDENTITY_EXPORT = "identity-export.json"


def identity_backend(settings: Settings) -> str:
    """``postgresql`` when ``database.url`` is set, else ``sqlite``."""
    return "postgresql" if settings.database.url else "sqlite"


def _tables(export: dict[str, Any]) -> dict[str, int]:
    return {t["name"]: len(t["rows"]) for t in export["tables"]}


def stage_identity_export(settings: Settings, folder: Path) -> str:
    """Export the PostgreSQL identity store into ``folder``; the manifest note."""
    db = identity_database(settings)
    try:
        export = export_identity(db)
    except CodeWeaverError as exc:
        raise BackupError(f"cannot export the PostgreSQL identity store: {exc}") from exc
    finally:
        db.close()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / IDENTITY_EXPORT
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # password hashes
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(export, fh)
    rows = sum(_tables(export).values())
    return (
        f"identity: PostgreSQL identity store exported to identity/{IDENTITY_EXPORT} "
        f"(schema version {export['schema_version']}, {rows} rows)"
    )


@dataclass(slots=True)
class IdentityImport:
    """A checked export, ready to replace the live identity store's rows."""

    source: str  # backend the backup came from
    target: str  # backend of the live store
    export: dict[str, Any]
    counts: dict[str, int] | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "from": self.source,
            "into": self.target,
            "schema_version": self.export["schema_version"],
            "exported_rows": _tables(self.export),
        }
        if self.counts is not None:
            out["tables"] = self.counts
        return out


def _read_backup(data: Path, settings: Settings) -> dict[str, Any] | None:
    exported = data / "identity" / IDENTITY_EXPORT
    if exported.is_file():
        try:
            raw = json.loads(exported.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BackupError(f"identity/{IDENTITY_EXPORT} is unreadable: {exc}") from exc
        return validate_export(raw)
    copy = data / "identity" / IDENTITY_DB
    if copy.is_file() and identity_backend(settings) == "postgresql":
        db = Database(copy)  # the restored copy, discarded afterwards
        try:
            return export_identity(db)
        except CodeWeaverError as exc:
            raise BackupError(f"the backup's identity/{IDENTITY_DB}: {exc}") from exc
        finally:
            db.close()
    return None  # nothing to restore, or a SQLite file swapped in as a file


def _live_version(settings: Settings) -> int:
    """The version the live store will have once migrated as every start does."""
    if identity_backend(settings) == "sqlite" and not (settings.home / IDENTITY_DB).is_file():
        return latest_version()
    db = identity_database(settings)
    try:
        with db.tx() as tx:
            return max(live_version(tx, db.postgres), latest_version())
    finally:
        db.close()


def plan_identity_import(settings: Settings, data: Path) -> IdentityImport | None:
    """The import the restored ``data`` calls for, checked against the live store's
    schema version; None when there is nothing to import."""
    export = _read_backup(data, settings)
    if export is None:
        return None
    problem = schema_problem(export["schema_version"], _live_version(settings))
    if problem:
        raise BackupError(problem)
    return IdentityImport(str(export.get("backend", "?")), identity_backend(settings), export)


def then_import_identity(
    check: Callable[[], list[str]],
    plan: IdentityImport | None,
    settings: Settings,
    report: dict[str, Any],
) -> Callable[[], list[str]]:
    """``check``, then (when it found nothing) the import: the swap's last check."""

    def run() -> list[str]:
        problems = check()
        if problems or plan is None:
            return problems
        report["identity"] = plan.summary()
        db = identity_database(settings)
        try:
            plan.counts = import_identity(db, plan.export)
        except CodeWeaverError as exc:
            report["identity"]["problems"] = [str(exc)]
            return [f"identity import into {plan.target} refused, nothing changed: {exc}"]
        finally:
            db.close()
        report["identity"] = plan.summary()
        return []

    return run
