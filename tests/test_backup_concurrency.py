"""A backup started while an index run is writing waits for the run's writer lock and
captures a consistent project: shard and manifest agree, and it restores cleanly."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time

from backup_support import CLI, cli_env, make_codebase, run, search_ids, status


def _recorded(db) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM files").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_backup_during_an_index_run_is_consistent(tmp_path):
    make_codebase(tmp_path / "code", files=150)
    home = tmp_path / "home"
    env = cli_env(
        home,
        CODEWEAVER_INDEX__BATCH_CHUNKS="16",
        CODEWEAVER_BACKUP__DEST=(tmp_path / "vault").as_uri(),
    )
    indexer = subprocess.Popen(
        [*CLI, "index", str(tmp_path / "code"), "-p", "proj"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = home / "projects" / "proj" / "manifest.sqlite"
    deadline = time.monotonic() + 300
    while _recorded(db) < 5:  # the run is writing: some files stored, most not
        assert indexer.poll() is None, "index finished before the backup could start"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    started_during = _recorded(db)
    res = run(["backup", "create", "--json"], env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert indexer.wait(300) == 0
    made = json.loads(res.stdout)
    assert started_during < 150
    info = made["collections"][0]
    # shard and manifest in the backup describe the same state
    assert info["files"] == 150 and made["points"] == 150 * 4
    before, counts = search_ids(env), status(env)

    kept = home.parent / "kept-backup.key"  # the signing key, kept apart from the backups
    shutil.copy(home / "auth" / "backup.key", kept)
    shutil.rmtree(home)
    env["CODEWEAVER_BACKUP__SIGNING_KEY_FILE"] = str(kept)
    res = run(["backup", "restore", made["backup_id"], "--json"], env)
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["projects"][0]["points"] == report["projects"][0]["expected_points"]
    assert status(env) == counts and search_ids(env) == before
