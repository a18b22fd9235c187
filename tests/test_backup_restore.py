"""Backups end to end through the CLI, on a local destination: round trip and faults."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from backup_support import (
    CLI,
    archive_path,
    cli_env,
    make_codebase,
    manifest_path,
    run,
    search_ids,
    status,
    write_signed,
)
from codeweaver.backup.archive import list_files


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """An indexed project (real model) and its search results, made once."""
    base = tmp_path_factory.mktemp("golden")
    make_codebase(base / "code", files=30)
    env = cli_env(base / "home")
    res = run(["index", str(base / "code"), "-p", "proj"], env)
    assert res.returncode == 0, res.stderr
    return base, search_ids(env), status(env)


@pytest.fixture
def home(golden, tmp_path):
    base, _, _ = golden
    shutil.copytree(base / "home", tmp_path / "home")
    return tmp_path / "home"


def backup(env: dict[str, str], *extra: str) -> dict:
    res = run(["backup", "create", "--json", *extra], env)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout)


def test_round_trip_after_losing_the_data_dir(golden, home):
    base, results, counts = golden
    env = cli_env(home)
    dest = home.parent / "vault"
    made = backup(env, "--dest", dest.as_uri())
    assert made["verification"]["ok"] and made["points"] == counts["points"]
    manifest = json.loads((manifest_path(dest, made["backup_id"])).read_text())
    assert manifest["collections"][0]["model"] == counts["model"]
    assert {f["path"] for f in manifest["files"]} >= {
        "projects/proj/manifest.sqlite",
        "projects/proj/project.json",
        "settings/settings.json",
    }
    assert manifest["size_mb"] > 0 and len(manifest["archive"]["sha256"]) == 64

    # the operator keeps the signing key apart from the backups, and brings it back
    kept = home.parent / "kept-backup.key"
    shutil.copy(home / "auth" / "backup.key", kept)
    shutil.rmtree(home)
    env["CODEWEAVER_BACKUP__SIGNING_KEY_FILE"] = str(kept)
    res = run(["backup", "restore", made["backup_id"], "--dest", dest.as_uri(), "--json"], env)
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["signature"] == "valid"
    assert report["ok"] and report["projects"][0]["probes_matched"] == 5
    assert report["live_checks"][0]["probes_matched"] == 5
    assert not (home / "projects" / "proj" / "probes.json").exists()
    assert set(report["components_restored"]) == {"collections", "manifests", "settings"}
    saved = json.loads(Path(report["report_path"]).read_text())
    assert saved["recovery_id"] == report["recovery_id"] and saved["backup_id"] == made["backup_id"]
    assert status(env) == counts
    assert search_ids(env) == results
    # the restored manifest lets the next run be incremental: nothing to re-embed
    again = run(["index", str(base / "code"), "-p", "proj", "--json"], env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["files_indexed"] == 0


def _corrupt_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def _assert_restore_refused(env, bid, dest, before_results, before_counts, why):
    res = run(["backup", "restore", bid, "--dest", dest.as_uri(), "--json"], env)
    assert res.returncode == 1, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert not report["ok"] and any(why in p for p in report["problems"]), report["problems"]
    assert status(env) == before_counts
    assert search_ids(env) == before_results


def test_flipped_byte_and_missing_archive_are_detected(golden, home):
    _, results, counts = golden
    env = cli_env(home)
    dest = home.parent / "vault"
    bid = backup(env, "--dest", dest.as_uri())["backup_id"]
    archive = archive_path(dest, bid)
    _corrupt_byte(archive)
    res = run(["backup", "verify", bid, "--dest", dest.as_uri()], env)
    assert res.returncode == 1 and "checksum" in res.stderr
    _assert_restore_refused(env, bid, dest, results, counts, "checksum")
    archive.unlink()
    res = run(["backup", "verify", bid, "--dest", dest.as_uri()], env)
    assert res.returncode == 1 and "missing" in res.stderr


def test_a_file_missing_inside_the_archive_is_detected(golden, home, tmp_path):
    """Even with a matching archive checksum, every file is checked against the manifest."""
    _, results, counts = golden
    env = cli_env(home)
    dest = home.parent / "vault"
    bid = backup(env, "--dest", dest.as_uri())["backup_id"]
    archive = archive_path(dest, bid)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    (tmp_path / "x" / "projects" / "proj" / "manifest.sqlite").unlink()
    with tarfile.open(archive, "w:gz") as tar:
        for entry in list_files(tmp_path / "x"):
            tar.add(tmp_path / "x" / entry.path, arcname=entry.path)
    manifest = json.loads((manifest_path(dest, bid)).read_text())
    from codeweaver.backup.manifest import sha256_file

    manifest["archive"].update(sha256=sha256_file(archive), size=archive.stat().st_size)
    (manifest_path(dest, bid)).write_text(json.dumps(manifest))
    res = run(["backup", "verify", bid, "--dest", dest.as_uri()], env)
    assert res.returncode == 1 and "signature does not match" in res.stderr
    write_signed(manifest_path(dest, bid), manifest, home / "auth" / "backup.key")
    res = run(["backup", "verify", bid, "--dest", dest.as_uri()], env)
    assert res.returncode == 1 and "missing file projects/proj/manifest.sqlite" in res.stderr
    _assert_restore_refused(env, bid, dest, results, counts, "missing file")


def test_schema_mismatch_is_refused(golden, home):
    _, results, counts = golden
    env = cli_env(home)
    dest = home.parent / "vault"
    bid = backup(env, "--dest", dest.as_uri())["backup_id"]
    path = manifest_path(dest, bid)
    manifest = json.loads(path.read_text())
    write_signed(path, {**manifest, "schema_version": 99}, home / "auth" / "backup.key")
    _assert_restore_refused(env, bid, dest, results, counts, "schema version 99")
    write_signed(path, {**manifest, "codeweaver_version": "9.0.0"}, home / "auth" / "backup.key")
    _assert_restore_refused(env, bid, dest, results, counts, "CodeWeaver 9.0.0")


def _kill_when(proc: subprocess.Popen[str], ready, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the command finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_backup_killed_midway_leaves_no_listed_backup(golden, home):
    _, results, counts = golden
    env = cli_env(home)
    dest = home.parent / "vault"
    proc = subprocess.Popen(
        [*CLI, "backup", "create", "--dest", dest.as_uri()],
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    work = home / ".backup-work"
    _kill_when(proc, lambda: work.is_dir() and any(p.is_dir() for p in work.iterdir()))
    listed = json.loads(run(["backup", "list", "--dest", dest.as_uri(), "--json"], env).stdout)
    assert all(b["status"] == "incomplete" for b in listed["backups"])
    assert status(env) == counts and search_ids(env) == results
    # the next backup cleans up the leftovers and works
    made = backup(env, "--dest", dest.as_uri())
    assert made["verification"]["ok"]
    assert [p.name for p in work.iterdir() if p.is_dir()] == []


def test_restore_killed_midway_keeps_the_previous_data(golden, home):
    _, results, counts = golden
    env = cli_env(home)
    dest = home.parent / "vault"
    bid = backup(env, "--dest", dest.as_uri())["backup_id"]
    proc = subprocess.Popen(
        [*CLI, "backup", "restore", bid, "--dest", dest.as_uri()],
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    staging = home / ".restore"
    _kill_when(proc, lambda: any(staging.glob("r*/data/projects/proj/shard")))
    assert status(env) == counts and search_ids(env) == results
    res = run(["backup", "restore", bid, "--dest", dest.as_uri(), "--json"], env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert status(env) == counts and search_ids(env) == results
    assert not [p for p in staging.iterdir() if p.is_dir()]


def test_unknown_backup_and_project_are_clear_errors(home):
    env = cli_env(home)
    dest = (home.parent / "vault").as_uri()
    res = run(["backup", "verify", "20260101T000000Z-abcdef", "--dest", dest], env)
    assert res.returncode == 2 and "no backup" in res.stderr
    res = run(["backup", "verify", "../../etc", "--dest", dest], env)
    assert res.returncode == 2 and "invalid backup id" in res.stderr
    res = run(["backup", "create", "--dest", dest, "-p", "nope"], env)
    assert res.returncode == 2 and "unknown project" in res.stderr
    res = run(["backup", "create", "--dest", "ftp://x/y"], env)
    assert res.returncode == 2 and "invalid backup destination" in res.stderr


def test_identity_store_round_trip_ignores_the_live_wal(tmp_path):
    import sqlite3

    from codeweaver.config import Settings
    from codeweaver.container import build_backup_service

    home = tmp_path / "home"
    home.mkdir()
    settings = Settings(home=home, backup={"dest": (tmp_path / "vault").as_uri()})
    db = home / "identity.db"
    live = sqlite3.connect(db)
    live.execute("PRAGMA journal_mode=WAL")
    live.execute("PRAGMA wal_autocheckpoint=0")
    live.execute("CREATE TABLE users (name TEXT)")
    live.execute("INSERT INTO users VALUES ('ada')")
    live.commit()
    service = build_backup_service(settings)
    made = service.create(components=["identity"])
    assert made["verification"]["ok"] and made["components"] == ["identity"]
    live.execute("INSERT INTO users VALUES ('mallory')")
    live.commit()
    wal = (home / "identity.db-wal").read_bytes()
    assert wal
    live.close()
    # a crashed server leaves its -wal behind, holding 'mallory'
    (home / "identity.db-wal").write_bytes(wal)
    report = service.restore(made["backup_id"], components=["identity"])
    assert report["ok"], report["problems"]
    assert report["components_restored"] == ["identity"]
    with sqlite3.connect(db) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM users")] == ["ada"]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_restore_is_refused_while_codeweaver_uses_the_data_dir(golden, home):
    """A running server (any open engine) keeps a restore out, and a restore in progress
    keeps servers and commands out; the live data is never touched."""
    from codeweaver.config import Settings
    from codeweaver.container import build_engine
    from codeweaver.errors import IndexingError
    from codeweaver.index.lock import home_exclusive
    from embedder_twin import HashEmbedder

    _, results, counts = golden
    env = cli_env(home)
    dest = home.parent / "vault"
    bid = backup(env, "--dest", dest.as_uri(), "--no-verify")["backup_id"]
    engine = build_engine(Settings(home=home), embedder=HashEmbedder())
    try:
        res = run(["backup", "restore", bid, "--dest", dest.as_uri()], env)
    finally:
        engine.close()
    assert res.returncode != 0 and "stop it before you restore a backup" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert status(env) == counts and search_ids(env) == results
    with home_exclusive(home, "restore a backup"):
        with pytest.raises(IndexingError, match="being restored"):
            build_engine(Settings(home=home), embedder=HashEmbedder())
        res = run(["search", "retry upload", "-p", "proj"], env)
        assert res.returncode != 0 and "being restored" in res.stderr
    res = run(["backup", "restore", bid, "--dest", dest.as_uri(), "--json"], env)
    assert res.returncode == 0, res.stdout + res.stderr
