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


def _collection(optimizers, wal, on_disk):
    return {
        "status": "green",
        "optimizer_status": "ok",
        "segments_count": 2,
        "config": {
            "params": {
                "vectors": {"dense": {"size": 8, "distance": "Cosine", "on_disk": on_disk}},
                "sparse_vectors": {"sparse": {"index": {"on_disk": on_disk}, "modifier": "idf"}},
                "shard_number": 1,
                "replication_factor": 1,
                "write_consistency_factor": 1,
                "on_disk_payload": on_disk,
            },
            "hnsw_config": {
                "m": 16,
                "ef_construct": 100,
                "full_scan_threshold": 10000,
                "on_disk": on_disk,
            },
            "optimizer_config": optimizers,
            "wal_config": wal,
        },
        "payload_schema": {
            k: {"data_type": "keyword", "points": 0}
            for k in ("path", "language", "kind", "symbol_keys")
        },
    }


DEFAULT_OPT = {
    "deleted_threshold": 0.2,
    "vacuum_min_vector_number": 1000,
    "default_segment_number": 0,
    "flush_interval_sec": 5,
}
DEFAULT_WAL = {"wal_capacity_mb": 32, "wal_segments_ahead": 0}


def test_server_create_and_update_bodies():
    """An in-process stand-in for Qdrant's REST API (no Qdrant server runs here): it
    records the exact create and update request bodies."""
    import httpx
    from qdrant_client import QdrantClient

    from codeweaver.adapters.server_store import QdrantServerStore

    seen: list[tuple[str, str, dict]] = []
    state = {"exists": False, "info": None}

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        seen.append((request.method, request.url.path, body))
        path = request.url.path
        if path.endswith("/exists"):
            return httpx.Response(200, json={"result": {"exists": state["exists"]}, "status": "ok"})
        if path == "/aliases":
            return httpx.Response(200, json={"result": {"aliases": []}, "status": "ok"})
        if request.method == "PUT" and path == "/collections/cw":
            state["exists"] = True
            state["info"] = _collection(
                {**DEFAULT_OPT, **body["optimizers_config"]},
                {**DEFAULT_WAL, **body["wal_config"]},
                True,
            )
        if request.method == "GET" and path == "/collections/cw":
            return httpx.Response(200, json={"result": state["info"], "status": "ok"})
        return httpx.Response(200, json={"result": True, "status": "ok"})

    client = QdrantClient(
        url="http://qdrant.test:6333",
        transport=httpx.MockTransport(handler),
        check_compatibility=False,
    )
    tuning = StoreTuning(
        deleted_threshold=0.1,
        vacuum_min_vector_number=500,
        memmap_threshold_kb=20000,
        wal_capacity_mb=64,
        on_disk=True,
    )
    store = QdrantServerStore(client, "cw", tuning=tuning)
    store.ensure(8)
    create = next(b for m, p, b in seen if m == "PUT" and p == "/collections/cw")
    assert create["optimizers_config"] == {
        "deleted_threshold": 0.1,
        "vacuum_min_vector_number": 500,
        "memmap_threshold": 20000,
    }
    assert create["wal_config"] == {"wal_capacity_mb": 64}
    assert create["on_disk_payload"] is True and create["hnsw_config"]["on_disk"] is True
    assert not [1 for m, _, _ in seen if m == "PATCH"]  # created as configured
    # an existing collection made without them: one PATCH with what differs
    state["info"] = _collection(DEFAULT_OPT, DEFAULT_WAL, False)
    seen.clear()
    again = QdrantServerStore(client, "cw", tuning=tuning)
    again.ensure(8)
    patch = [b for m, p, b in seen if m == "PATCH" and p == "/collections/cw"]
    assert patch == [
        {
            "optimizers_config": {
                "deleted_threshold": 0.1,
                "vacuum_min_vector_number": 500,
                "memmap_threshold": 20000,
            },
            "params": {"on_disk_payload": True},
            "vectors": {"dense": {"on_disk": True}},
            "hnsw_config": {"on_disk": True},
            "sparse_vectors": {"sparse": {"index": {"on_disk": True}, "modifier": "idf"}},
        }
    ]
    view = again.storage_config()
    assert view["collection"] == "cw" and "wal_capacity_mb" in view["not_applied"]
    again.close()
    store.close()
