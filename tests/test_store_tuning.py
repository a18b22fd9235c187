"""Optimizer and on-disk settings reach the embedded Qdrant Edge shard (read back from the
shard's stored config), existing shards take them when they open, and bad values are a
one-line config error at the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

from codeweaver.adapters.edge_store import EdgeStore
from codeweaver.adapters.store_tuning import StoreTuning


def _stored(path):
    return json.loads((path / "edge_config.json").read_text())


def test_new_shard_gets_the_options(tmp_path):
    tuning = StoreTuning(
        deleted_threshold=0.1,
        vacuum_min_vector_number=200,
        default_segment_number=3,
        max_segment_size_kb=50_000,
        on_disk=True,
    )
    store = EdgeStore(tmp_path / "s", tuning=tuning)
    store.ensure(8)
    opt = _stored(tmp_path / "s")["optimizers"]
    assert (opt["deleted_threshold"], opt["vacuum_min_vector_number"]) == (0.1, 200)
    assert (opt["default_segment_number"], opt["max_segment_size"]) == (3, 50_000)
    view = store.storage_config()
    assert view["deleted_threshold"] == 0.1 and view["not_applied"] == {}
    assert view["on_disk"] == {"vectors": True, "sparse_index": True, "hnsw": True, "payload": True}
    store.close()


def test_existing_shard_takes_new_values_and_keeps_others(tmp_path):
    store = EdgeStore(tmp_path / "s", tuning=StoreTuning(vacuum_min_vector_number=300))
    store.ensure(8)
    store.close()
    again = EdgeStore(tmp_path / "s", tuning=StoreTuning(deleted_threshold=0.3))
    opt = _stored(tmp_path / "s")["optimizers"]
    assert (opt["deleted_threshold"], opt["vacuum_min_vector_number"]) == (0.3, 300)
    again.ensure(8)
    assert again.count() == 0
    again.close()
    plain = EdgeStore(tmp_path / "s")  # no settings: the stored values stay
    assert _stored(tmp_path / "s")["optimizers"]["deleted_threshold"] == 0.3
    unsupported = EdgeStore(tmp_path / "t", tuning=StoreTuning(wal_capacity_mb=64))
    unsupported.ensure(8)
    assert "wal_capacity_mb" in unsupported.storage_config()["not_applied"]
    plain.close()
    unsupported.close()


def test_bad_value_is_one_line_cli_error(tmp_path):
    env = {
        "CODEWEAVER_HOME": str(tmp_path / "h"),
        "CODEWEAVER_QDRANT__VACUUM_MIN_VECTOR_NUMBER": "5",
        "PATH": "/usr/bin:/bin",
    }
    res = subprocess.run(
        [sys.executable, "-m", "codeweaver.cli.app", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "qdrant.vacuum_min_vector_number" in lines[0]
