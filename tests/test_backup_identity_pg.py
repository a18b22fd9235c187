"""The ``identity`` backup component on a real PostgreSQL server: a snapshot export,
a transactional restore, refusals that change nothing, and SQLite <-> PostgreSQL."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import pg_server
from backup_support import archive_path, cli_env, manifest_path, run, write_signed
from codeweaver.auth import export as export_mod
from codeweaver.auth.admin import Admin
from codeweaver.auth.audit import AuditLog
from codeweaver.auth.db import MIGRATIONS, Database
from codeweaver.auth.export import export_identity, identity_tables, latest_version
from codeweaver.auth.rbac import Roles
from codeweaver.auth.service import AuthService
from codeweaver.auth.setup import build_auth, open_store
from codeweaver.backup.archive import list_files
from codeweaver.backup.manifest import sha256_file
from codeweaver.config import Settings
from codeweaver.container import build_backup_service
from codeweaver.errors import AuthenticationError

SECRET = "s" * 40
PASSWORD = "correct horse battery staple 42"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if not pg_server.available():
        pytest.skip("PostgreSQL 15 server binaries are not installed")
    with pg_server.postgres() as url:
        yield url


def _settings(tmp: Path, url: str | None, home: str = "home") -> Settings:
    key = tmp / "backup.key"  # one signing key for every data directory of a test
    if not key.exists():
        key.write_text("ab" * 32)
    return Settings(
        home=tmp / home,
        database={"url": url},
        backup={"dest": (tmp / "vault").as_uri(), "signing_key_file": key},
        auth={"secret": SECRET},
    )


class Identity:
    """A live identity store with its admin and auth service."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = open_store(settings)
        self.admin = Admin(self.store, Roles(), AuditLog(None), actor="cli:test")
        self.auth: AuthService = build_auth(settings, self.store)

    def rows(self) -> dict[str, list[list[Any]]]:
        """Every table's rows, in one order on both backends (their collations differ)."""
        tables = export_identity(self.store.db)["tables"]
        return {t["name"]: sorted(t["rows"], key=repr) for t in tables}

    def user_of(self, key: str) -> str:
        return self.auth.authenticate(key).user

    def close(self) -> None:
        self.store.db.close()


def _populate(ident: Identity) -> dict[str, str]:
    """Users, tenants, roles, keys, a refresh token, a revocation and a lockout."""
    admin = ident.admin
    admin.add_user("ada", "admin", "acme", PASSWORD)
    admin.add_tenant("ada", "globex")
    admin.add_user("bob", "developer", "globex", None, service=True)
    admin.add_user("cy", "readonly", "acme", None, service=True)
    _, kept = admin.create_key("bob", "ci", None)
    revoked, _ = admin.create_key("cy", "old", 30)
    admin.revoke_key(revoked.key_id)
    ident.auth.login_password("ada", PASSWORD)  # a refresh token
    ident.store.revoke_jti("jti-1", 4102444800.25)
    ident.store.claim_login("cy", 1_700_000_000.123456789, 300, 1)  # a failed login
    ident.store.record_failure("cy", 1_700_000_000.123456789, 300, 1, 900.5)  # a lockout
    return {"kept": kept}


def _change(ident: Identity, keys: dict[str, str]) -> str:
    """Edits after the backup; the key made now."""
    admin = ident.admin
    with ident.store.db.tx(write=True) as tx:
        tx.execute("DELETE FROM users WHERE name = ?", ("cy",))
    admin.set_role("ada", "readonly")
    admin.disable("bob")
    admin.add_user("mallory", "admin", "evil", None, service=True)
    _, later = admin.create_key("mallory", "late", None)
    for record in admin.list_keys("bob"):
        admin.revoke_key(record.key_id)
    ident.store.set_password("ada", "not-a-valid-hash")
    return later


def test_tables_come_from_the_migrations_parents_first(tmp_path):
    db = Database(tmp_path / "identity.db")
    db.migrate()
    with db.tx() as tx:
        live = {r[0] for r in tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    tables = identity_tables()
    assert set(tables) == live - {"schema_migrations"}
    assert tables.index("users") < tables.index("user_tenants") < tables.index("api_keys")
    later = (
        (1, ("CREATE TABLE child (p TEXT REFERENCES parent(id))", "CREATE TABLE parent (id TEXT)")),
        (2, ("ALTER TABLE parent RENAME TO mom", "CREATE TABLE gone (x TEXT)")),
        (3, ("DROP TABLE gone", "ALTER TABLE mom ADD COLUMN c TEXT REFERENCES kid(id)")),
        (4, ("CREATE TABLE kid (id TEXT PRIMARY KEY)",)),
    )
    assert identity_tables(later, version=1) == ("parent", "child")
    assert identity_tables(later, version=2) == ("mom", "child", "gone")
    assert identity_tables(later) == ("kid", "mom", "child")
    assert identity_tables(MIGRATIONS, version=0) == ()


def test_postgresql_identity_round_trip(pg_url, tmp_path):
    ident = Identity(_settings(tmp_path, pg_server.fresh_database(pg_url)))
    try:
        keys = _populate(ident)
        before = ident.rows()
        service = build_backup_service(ident.settings)
        made = service.create(components=["identity"])
        assert made["verification"]["ok"], made["verification"]
        assert any("PostgreSQL identity store exported" in n for n in made["notes"])
        manifest = json.loads(manifest_path(tmp_path / "vault", made["backup_id"]).read_text())
        assert [f["path"] for f in manifest["files"]] == ["identity/identity-export.json"]

        later = _change(ident, keys)
        assert ident.user_of(later) == "mallory"
        with pytest.raises(AuthenticationError):
            ident.user_of(keys["kept"])
        assert ident.rows() != before

        report = service.restore(made["backup_id"], components=["identity"])
        assert report["ok"], report["problems"]
        assert report["components_restored"] == ["identity"]
        counts = {name: len(rows) for name, rows in before.items()}
        assert report["identity"] == {
            "from": "postgresql",
            "into": "postgresql",
            "schema_version": latest_version(),
            "exported_rows": counts,
            "tables": counts,
        }
        assert counts["users"] == 3 and counts["api_keys"] == 2 and counts["login_attempts"] == 1
        saved = json.loads(Path(report["report_path"]).read_text())
        assert saved["identity"]["tables"] == counts
        # every row is back exactly (timestamps to the last bit), and nothing else
        assert ident.rows() == before
        users = {u.name: u for u in ident.admin.list_users()}
        assert set(users) == {"ada", "bob", "cy"}
        assert users["ada"].role == "admin" and users["ada"].tenants == ("acme", "globex")
        assert not users["bob"].disabled and users["cy"].role == "readonly"
        assert ident.user_of(keys["kept"]) == "bob"
        with pytest.raises(AuthenticationError, match="invalid API key"):
            ident.user_of(later)
        assert ident.auth.login_password("ada", PASSWORD).user == "ada"
        assert ident.store.locked_until("cy") == 1_700_000_000.123456789 + 900.5
        assert ident.store.is_revoked("jti-1")
    finally:
        ident.close()


def test_export_is_one_snapshot(pg_url, tmp_path, monkeypatch):
    """A user and key committed while the export runs are in neither table."""
    url = pg_server.fresh_database(pg_url)
    ident = Identity(_settings(tmp_path, url))
    try:
        ident.admin.add_user("ada", "admin", "acme", None, service=True)
        columns = export_mod._columns
        calls: list[str] = []

        def meddle(tx, postgres, table):
            calls.append(table)
            if table == "api_keys":  # users and user_tenants are read already
                with psycopg.connect(url, autocommit=True) as other:
                    other.execute(
                        "INSERT INTO users VALUES ('eve', 'service', NULL, 'admin', 'x', 0, 1.5)"
                    )
                    other.execute(
                        "INSERT INTO api_keys VALUES ('k', 'eve', 'n', 'h', 1.5, NULL, NULL)"
                    )
            return columns(tx, postgres, table)

        monkeypatch.setattr(export_mod, "_columns", meddle)
        data = export_identity(ident.store.db)
        tables = {t["name"]: t for t in data["tables"]}
        assert [r[0] for r in tables["users"]["rows"]] == ["ada"]
        assert tables["api_keys"]["rows"] == []
        assert data["backend"] == "postgresql" and data["migrations"] == [v for v, _ in MIGRATIONS]
        assert tables["users"]["types"] == ["text"] * 5 + ["integer", "real"]
        assert "api_keys" in calls
        assert {u.name for u in ident.admin.list_users()} == {"ada", "eve"}
    finally:
        ident.close()


def _rewrite_export(vault: Path, bid: str, edit) -> None:
    """Edit the backup's identity export and fix every checksum in the manifest, signed
    again with the test's key, so that only the import itself can catch the damage."""
    archive = archive_path(vault, bid)
    unpacked = vault.parent / f"unpacked-{bid}"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    path = unpacked / "identity" / "identity-export.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with tarfile.open(archive, "w:gz") as tar:
        for entry in list_files(unpacked):
            tar.add(unpacked / entry.path, arcname=entry.path)
    manifest = json.loads(manifest_path(vault, bid).read_text())
    manifest["files"] = [
        {"path": e.path, "sha256": e.sha256, "size": e.size} for e in list_files(unpacked)
    ]
    manifest["archive"].update(sha256=sha256_file(archive), size=archive.stat().st_size)
    write_signed(manifest_path(vault, bid), manifest, vault.parent / "backup.key")


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in data["tables"] if t["name"] == name)


def test_a_row_refused_midway_rolls_the_restore_back(pg_url, tmp_path):
    """A duplicated API key (the last table) fails the import after users and tenants
    were replaced: the transaction rolls back, the CLI exits 1 and says why."""
    url = pg_server.fresh_database(pg_url)
    ident = Identity(_settings(tmp_path, url))
    try:
        keys = _populate(ident)
        bid = build_backup_service(ident.settings).create(components=["identity"])["backup_id"]
        later = _change(ident, keys)
        live = ident.rows()

        def duplicate_key(data: dict[str, Any]) -> None:
            table = _table(data, "api_keys")
            table["rows"].append(list(table["rows"][0]))
            table["count"] += 1

        _rewrite_export(tmp_path / "vault", bid, duplicate_key)
        env = cli_env(
            ident.settings.home,
            CODEWEAVER_DATABASE__URL=url,
            CODEWEAVER_BACKUP__SIGNING_KEY_FILE=str(tmp_path / "backup.key"),
        )
        res = run(
            ["backup", "restore", bid, "--components", "identity", "--dest",
             (tmp_path / "vault").as_uri()],
            env,
            timeout=120,
        )  # fmt: skip
        assert res.returncode == 1, res.stdout + res.stderr
        out, err = " ".join(res.stdout.split()), " ".join(res.stderr.split())
        assert "FAILED; the current data is unchanged" in out
        assert "identity import into postgresql refused, nothing changed" in err
        assert "'api_keys'" in err and "duplicate key" in err
        assert "Traceback" not in err and "cw-test-password" not in out + err
        assert ident.rows() == live
        assert ident.user_of(later) == "mallory"
        report = json.loads(next((ident.settings.home / "recovery").glob("*/*.json")).read_text())
        assert not report["ok"] and "duplicate key" in report["identity"]["problems"][0]
    finally:
        ident.close()


def test_schema_version_mismatches_are_refused(pg_url, tmp_path):
    url = pg_server.fresh_database(pg_url)
    ident = Identity(_settings(tmp_path, url))
    try:
        keys = _populate(ident)
        service = build_backup_service(ident.settings)
        bid = service.create(components=["identity"])["backup_id"]
        _change(ident, keys)
        live = ident.rows()
        # the live store went on to a newer schema: migrations do not go back
        newer = latest_version() + 1
        with ident.store.db.tx(write=True) as tx:
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)", (newer,)
            )
        report = service.restore(bid, components=["identity"])
        assert not report["ok"]
        why = f"older than the live identity store's version {newer}"
        assert any(why in p for p in report["problems"])
        with ident.store.db.tx(write=True) as tx:
            tx.execute("DELETE FROM schema_migrations WHERE version = ?", (newer,))
        assert ident.rows() == live
        # a backup from a newer schema
        _rewrite_export(tmp_path / "vault", bid, lambda d: d.update(schema_version=7))
        report = service.restore(bid, components=["identity"])
        assert not report["ok"]
        assert any("identity schema is version 7, newer" in p for p in report["problems"])
        assert ident.rows() == live
        assert "identity" not in report["components_restored"]
    finally:
        ident.close()


def test_identity_moves_between_sqlite_and_postgresql(pg_url, tmp_path):
    """A SQLite backup restores into PostgreSQL, a PostgreSQL one into SQLite."""
    lite = Identity(_settings(tmp_path, None, "lite"))
    try:
        keys = _populate(lite)
        before = lite.rows()
        bid = build_backup_service(lite.settings).create(components=["identity"])["backup_id"]
    finally:
        lite.close()

    pg_settings = _settings(tmp_path, pg_server.fresh_database(pg_url), "pg")
    report = build_backup_service(pg_settings).restore(bid, components=["identity"])
    assert report["ok"], report["problems"]
    assert report["identity"]["from"] == "sqlite" and report["identity"]["into"] == "postgresql"
    assert not (pg_settings.home / "identity.db").exists()
    pg = Identity(pg_settings)
    try:
        assert pg.rows() == before
        assert pg.user_of(keys["kept"]) == "bob"
        pg.admin.add_user("dee", "developer", "acme", None, service=True)
        after = pg.rows()
        bid2 = build_backup_service(pg_settings).create(components=["identity"])["backup_id"]
    finally:
        pg.close()

    back = _settings(tmp_path, None, "lite2")
    report = build_backup_service(back).restore(bid2, components=["identity"])
    assert report["ok"], report["problems"]
    assert report["identity"]["from"] == "postgresql" and report["identity"]["into"] == "sqlite"
    lite2 = Identity(back)
    try:
        assert lite2.rows() == after
        assert lite2.user_of(keys["kept"]) == "bob"
        assert {u.name for u in lite2.admin.list_users()} == {"ada", "bob", "cy", "dee"}
    finally:
        lite2.close()


def test_sqlite_identity_backups_still_travel_as_the_file(tmp_path):
    lite = Identity(_settings(tmp_path, None))
    try:
        _populate(lite)
        made = build_backup_service(lite.settings).create(components=["identity"])
    finally:
        lite.close()
    raw = archive_path(tmp_path / "vault", made["backup_id"]).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        assert tar.getnames() == ["identity/identity.db"]
    assert any("SQLite identity store copied" in n for n in made["notes"])
