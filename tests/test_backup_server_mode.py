"""Backups of projects whose vectors live in a Qdrant server (qdrant.mode = "server").

Everything runs against qdrant-client's local mode (``QdrantClient(":memory:")``), which
answers the same API calls a server does; the engine and the backup service share one
client, as a deployment shares one server.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest

from backup_support import manifest_path
from codeweaver.adapters.server_backup import ServerCollections
from codeweaver.adapters.server_export import export_collection, import_collection, read_meta
from codeweaver.adapters.server_store import QdrantServerStore, connect
from codeweaver.backup.swap import journal_path
from codeweaver.container import build_backup_service
from codeweaver.errors import BackupError, StoreError
from codeweaver.types import SparseVec, StoredPoint
from server_backup_support import Deployment, make_codebase, rewrite_backup

LIVE = "codeweaver_proj"


@pytest.fixture
def deployment(tmp_path):
    make_codebase(tmp_path / "code")
    d = Deployment.create(tmp_path)
    d.index(tmp_path / "code")
    return d


def test_round_trip_after_losing_the_collection_and_the_data_dir(deployment, tmp_path):
    d = deployment
    before = d.state()
    made = d.service.create()
    assert made["verification"]["ok"], made["verification"]
    assert made["points"] == before[1]["points"] == 36
    manifest = json.loads((manifest_path(d.vault, made["backup_id"])).read_text())
    (info,) = manifest["collections"]
    assert info["store"] == "server" and info["points"] == 36 and info["probes"] == 5
    assert {f["path"] for f in manifest["files"]} >= {
        "projects/proj/project.json",
        "projects/proj/manifest.sqlite",
        "projects/proj/probes.json",
        "projects/proj/collection/collection.json",
        "projects/proj/collection/dense.npy",
        "projects/proj/collection/points.jsonl",
    }

    d.client.delete_collection(LIVE)
    shutil.rmtree(d.home / "projects")
    report = d.service.restore(made["backup_id"])
    assert report["ok"], report["problems"]
    (checked,) = report["projects"]
    assert checked["store"] == "server" and checked["probes_matched"] == 5
    assert report["live_checks"][0]["probes_matched"] == 5
    saved = json.loads(Path(report["report_path"]).read_text())
    assert saved["projects"][0]["collection"] == checked["collection"]
    assert d.state() == before
    assert d.aliases() == {LIVE: checked["collection"]}
    assert d.collections() == [checked["collection"]]
    assert sorted(p.name for p in (d.home / "projects" / "proj").iterdir()) == [
        "manifest.sqlite",
        "project.json",
    ]
    # the restored manifest lets the next run be incremental: nothing to re-embed
    engine = d.engine()
    try:
        assert engine.index(tmp_path / "code", "proj").files_indexed == 0
    finally:
        engine.close()


def test_restore_over_live_data_replaces_it_and_keeps_one_collection(deployment, tmp_path):
    d = deployment
    before = d.state()
    bid = d.service.create()["backup_id"]
    (tmp_path / "code" / "mod_00.py").unlink()
    (tmp_path / "code" / "extra.py").write_text("def velka_dorin():\n    '''velka'''\n")
    d.index(tmp_path / "code")
    assert d.state() != before

    first = d.service.restore(bid)  # the live name is a collection: parked, then replaced
    assert first["ok"], first["problems"]
    assert d.state() == before
    assert d.collections() == [first["projects"][0]["collection"]]

    d.index(tmp_path / "code")  # writes go through the alias
    assert d.state() != before
    second = d.service.restore(bid)  # the live name is an alias now: re-pointed
    assert second["ok"], second["problems"]
    assert d.state() == before
    assert d.collections() == [second["projects"][0]["collection"]]
    assert d.aliases() == {LIVE: second["projects"][0]["collection"]}

    engine = d.engine()  # removing the project deletes the collection behind the alias
    try:
        engine.remove_project("proj")
    finally:
        engine.close()
    assert d.collections() == [] and d.aliases() == {}


def _roll_vectors(root: Path) -> None:
    path = root / "projects" / "proj" / "collection" / "dense.npy"
    np.save(path, np.roll(np.load(path), 1, axis=0))


def _drop_last_point(root: Path) -> None:
    folder = root / "projects" / "proj" / "collection"
    np.save(folder / "dense.npy", np.load(folder / "dense.npy")[:-1])
    lines = (folder / "points.jsonl").read_text().splitlines(keepends=True)
    (folder / "points.jsonl").write_text("".join(lines[:-1]))
    meta = json.loads((folder / "collection.json").read_text())
    (folder / "collection.json").write_text(json.dumps({**meta, "points": meta["points"] - 1}))


@pytest.mark.parametrize(
    ("edit", "why"),
    [(_roll_vectors, "returned other results"), (_drop_last_point, "35 points")],
    ids=["vectors", "count"],
)
def test_a_tampered_export_fails_verification_and_changes_nothing(deployment, tmp_path, edit, why):
    d = deployment
    before = d.state()
    bid = d.service.create()["backup_id"]
    rewrite_backup(d.vault, bid, edit, tmp_path / "tamper")
    assert d.service.verify(bid)["ok"]  # the checksums match: only the restore can tell
    report = d.service.restore(bid)
    assert not report["ok"]
    assert any(why in p for p in report["problems"]), report["problems"]
    failed = [s["step"] for s in report["steps"] if not s["ok"]]
    assert failed == ["verify restored collections"]
    assert d.state() == before
    assert d.collections() == [LIVE] and d.aliases() == {}
    assert any("deleted collection" in c for c in report["cleanup"])


class _Fault:
    """Makes the first call of a ``ServerCollections`` method whose first argument is
    ``name`` (any, when ``None``) raise ``error``, before or ``after`` doing its work."""

    def __init__(self, monkeypatch, method, error, *, name=None, after=False):
        self.hit = False
        real = getattr(ServerCollections, method)

        def wrapper(this, *args, **kwargs):
            if self.hit or name not in (None, args[0]):
                return real(this, *args, **kwargs)
            self.hit = True
            if after:
                real(this, *args, **kwargs)
            raise error

        monkeypatch.setattr(ServerCollections, method, wrapper)


# the swap's steps: park a copy of the live collection, delete it, point the alias
STEPS = [("copy", None), ("drop", LIVE), ("switch", None)]


@pytest.mark.parametrize(("method", "name"), STEPS, ids=[m for m, _ in STEPS])
@pytest.mark.parametrize("aliased", [False, True], ids=["collection", "alias"])
def test_a_failure_during_the_swap_leaves_the_live_data_intact(
    deployment, tmp_path, monkeypatch, method, name, aliased
):
    d = deployment
    bid = d.service.create()["backup_id"]
    if aliased:  # a project restored before: its name is an alias
        assert d.service.restore(bid)["ok"]
    (tmp_path / "code" / "extra.py").write_text("def velka_dorin():\n    '''velka mosa'''\n")
    d.index(tmp_path / "code")
    before = d.state()
    fault = _Fault(monkeypatch, method, StoreError("the server went away"), name=name)
    report = d.service.restore(bid)
    if aliased and method != "switch":  # re-pointing an alias neither copies nor deletes
        assert report["ok"] and not fault.hit
        return
    assert fault.hit and not report["ok"]
    assert any("rolled back" in p for p in report["problems"]), report["problems"]
    monkeypatch.undo()
    assert d.state() == before
    token = report["recovery_id"][1:].lower()
    assert len(d.collections()) == 1 and f"__restore_{token}" not in d.collections()[0]
    assert not journal_path(d.home).exists()
    assert not list((d.home / ".restore").glob("r*"))


def test_previous_collection_left_by_a_failed_cleanup_is_deleted_later(deployment, monkeypatch):
    d = deployment
    bid = d.service.create()["backup_id"]
    first = d.service.restore(bid)
    previous = first["projects"][0]["collection"]
    before = d.state()
    _Fault(monkeypatch, "drop", StoreError("the server went away"), name=previous)
    report = d.service.restore(bid)
    assert report["ok"], report["problems"]
    swap = next(s for s in report["steps"] if s["step"] == "swap in")
    assert "left for the next backup command" in swap["notes"][0]
    assert previous in d.collections() and len(d.collections()) == 2
    monkeypatch.undo()
    d.service.create()  # finishes the journaled restore first
    assert d.collections() == [report["projects"][0]["collection"]]
    assert not journal_path(d.home).exists()
    assert d.state() == before


def test_a_failed_check_after_the_swap_rolls_the_collection_back(deployment, monkeypatch):
    from codeweaver.backup import targets

    d = deployment
    bid = d.service.create()["backup_id"]
    before = d.state()
    real = targets.Targets.check_live

    def failing(self, info):
        out = real(self, info)
        assert d.aliases()[LIVE].startswith(f"{LIVE}__restore_")  # swapped in when checked
        return {**out, "problems": ["probe returned other results"]}

    monkeypatch.setattr(targets.Targets, "check_live", failing)
    report = d.service.restore(bid)
    assert not report["ok"]
    assert any("failed its check" in p for p in report["problems"]), report["problems"]
    assert d.state() == before
    # the original collection was deleted to free its name: its parked copy serves now
    assert d.aliases() == {LIVE: f"{LIVE}__previous_{report['recovery_id'][1:].lower()}"}
    assert len(d.collections()) == 1


class _Killed(BaseException):
    """Stands for the process being killed: nothing in CodeWeaver catches it."""


KILLS = [("copy", None), ("drop", LIVE), ("switch", None)]


@pytest.mark.parametrize(("method", "name"), KILLS, ids=["copied", "deleted", "switched"])
def test_a_restore_killed_during_the_swap_is_rolled_back_by_the_next_command(
    deployment, monkeypatch, method, name
):
    d = deployment
    bid = d.service.create()["backup_id"]
    before = d.state()
    fault = _Fault(monkeypatch, method, _Killed(), name=name, after=True)
    with pytest.raises(_Killed):
        d.service.restore(bid)
    assert fault.hit
    monkeypatch.undo()
    journal = json.loads(journal_path(d.home).read_text())
    assert journal["state"] == "swapping" and journal["collections"][0]["live"] == LIVE
    # the next backup command rolls back first, then does its own work
    made = d.service.create()
    assert made["points"] == before[1]["points"]
    assert not journal_path(d.home).exists()
    assert d.state() == before
    assert len(d.collections()) == 1
    # and a restore afterwards works
    assert d.service.restore(bid)["ok"]
    assert d.state() == before


def test_a_restore_killed_while_loading_leaves_no_collection_behind(deployment, monkeypatch):
    from codeweaver.backup import targets

    d = deployment
    bid = d.service.create()["backup_id"]
    real = targets.stage_server_project

    def killed(folder, info, server, name):
        real(folder, info, server, name)
        raise _Killed()

    monkeypatch.setattr(targets, "stage_server_project", killed)
    monkeypatch.setattr(targets.Targets, "clean_up", lambda self: [])  # a kill skips it
    with pytest.raises(_Killed):
        d.service.restore(bid)
    monkeypatch.undo()
    assert len(d.collections()) == 2
    assert len(list((d.home / ".restore").glob("pending-*.json"))) == 1
    report = d.service.restore(bid)
    assert report["ok"], report["problems"]
    assert d.collections() == [report["projects"][0]["collection"]]
    assert not list((d.home / ".restore").glob("pending-*"))


def test_a_project_with_zero_points_and_one_without_a_collection(tmp_path):
    d = Deployment.create(tmp_path)
    (tmp_path / "empty").mkdir()
    d.index(tmp_path / "empty", "empty")
    make_codebase(tmp_path / "code", files=2)
    d.index(tmp_path / "code", "lost")
    d.client.delete_collection("codeweaver_lost")
    assert d.collections() == ["codeweaver_empty"]

    made = d.service.create()
    assert made["verification"]["ok"] and made["points"] == 0
    infos = {c["project"]: c for c in made["collections"]}
    assert infos["empty"]["points"] == 0 and infos["lost"]["points"] == 0
    manifest = json.loads((manifest_path(d.vault, made["backup_id"])).read_text())
    paths = {f["path"] for f in manifest["files"]}
    assert "projects/empty/collection/dense.npy" in paths
    assert not any(p.startswith("projects/lost/collection/") for p in paths)

    d.client.delete_collection("codeweaver_empty")
    report = d.service.restore(made["backup_id"])
    assert report["ok"], report["problems"]
    restored = d.aliases()["codeweaver_empty"]
    assert d.collections() == [restored]
    info = d.client.get_collection("codeweaver_empty")
    assert info.points_count == 0 and info.config.params.vectors["dense"].size == 64


def test_project_selection_and_components(tmp_path):
    d = Deployment.create(tmp_path)
    make_codebase(tmp_path / "a", files=8, seed=1)
    make_codebase(tmp_path / "b", files=8, seed=2)
    d.index(tmp_path / "a", "a")
    d.index(tmp_path / "b", "b")
    a_before, b_before = d.state("a"), d.state("b")

    only_a = d.service.create(project="a")
    assert [c["project"] for c in only_a["collections"]] == ["a"]
    assert only_a["points"] == a_before[1]["points"]
    refused = d.service.restore(only_a["backup_id"], project="b")
    assert not refused["ok"] and "has no project 'b'" in refused["problems"][0]

    both = d.service.create()
    (tmp_path / "a" / "mod_00.py").unlink()
    (tmp_path / "b" / "mod_00.py").unlink()
    d.index(tmp_path / "a", "a")
    d.index(tmp_path / "b", "b")
    a_changed = d.state("a")
    report = d.service.restore(both["backup_id"], project="b", components=["collections"])
    assert report["ok"], report["problems"]
    assert report["components_restored"] == ["collections", "manifests"]
    assert d.state("b") == b_before
    assert d.state("a") == a_changed  # untouched
    assert d.aliases() == {"codeweaver_b": report["projects"][0]["collection"]}

    settings_only = d.service.create(components=["settings"])
    assert settings_only["components"] == ["settings"] and settings_only["collections"] == []


def test_a_server_backup_is_not_restored_into_embedded_mode(deployment):
    d = deployment
    bid = d.service.create()["backup_id"]
    embedded = d.settings.model_copy(
        update={"qdrant": d.settings.qdrant.model_copy(update={"mode": "embedded"})}
    )
    report = build_backup_service(embedded).restore(bid)
    assert not report["ok"]
    assert any("qdrant.mode = 'server'" in p for p in report["problems"]), report["problems"]
    assert d.collections() == [LIVE]


# -- the export format and the adapter, on their own ------------------------------------


def _points(n: int, dim: int = 8) -> list[StoredPoint]:
    rng = np.random.default_rng(3)
    return [
        StoredPoint(
            str(uuid.UUID(int=i + 1)),
            rng.normal(size=dim).tolist(),
            SparseVec((i, i + 7), (1.5, 0.25)) if i % 3 else SparseVec((), ()),
            {"path": f"src/ü_{i}.py", "start_line": i, "symbol_keys": ["a", f"b{i}"]},
        )
        for i in range(n)
    ]


def _everything(client, name: str) -> dict[str, tuple]:
    records, _ = client.scroll(name, limit=10_000, with_payload=True, with_vectors=True)
    out = {}
    for r in records:
        sparse = r.vector.get("sparse")
        key = (list(sparse.indices), list(sparse.values)) if sparse is not None else None
        out[str(r.id)] = (np.asarray(r.vector["dense"]), key, r.payload)
    return out


def test_export_and_import_keep_every_point(tmp_path):
    client = connect(":memory:")
    src = QdrantServerStore(client, "src")
    src.ensure(8)
    src.upsert(_points(600))
    written: list[int] = []
    out = tmp_path / "export"
    exported = export_collection(src, out, sample=5, page=100, on_bytes=written.append)
    assert (exported.points, exported.dim, len(exported.samples)) == (600, 8, 5)
    assert len(written) == 6  # one report per page
    header = (out / "dense.npy").stat().st_size - 600 * 8 * 4
    assert (
        sum(written)
        == (out / "dense.npy").stat().st_size - header + (out / "points.jsonl").stat().st_size
    )
    meta = read_meta(out)
    assert meta["points"] == 600 and meta["created_with"]["distance"] == "Cosine"

    dst = QdrantServerStore(client, "dst")
    assert import_collection(dst, out, batch=128) == 600
    want, got = _everything(client, "src"), _everything(client, "dst")
    assert want.keys() == got.keys()
    for key, (dense, sparse, payload) in want.items():
        assert np.allclose(dense, got[key][0], atol=1e-6)
        assert (sparse, payload) == got[key][1:]


def test_a_collection_that_changes_during_its_export_is_an_error(tmp_path):
    client = connect(":memory:")
    src = QdrantServerStore(client, "src")
    src.ensure(8)
    src.upsert(_points(300))
    extra = _points(400)[300:]

    def write_meanwhile(_nbytes: int) -> None:
        src.upsert(extra)

    with pytest.raises(StoreError, match="grew while it was exported"):
        export_collection(src, tmp_path / "x", page=100, on_bytes=write_meanwhile)


@pytest.mark.parametrize("damage", ["extra-line", "short-dense", "format"])
def test_a_damaged_export_is_refused(tmp_path, damage):
    client = connect(":memory:")
    src = QdrantServerStore(client, "src")
    src.ensure(8)
    src.upsert(_points(20))
    out = tmp_path / "export"
    export_collection(src, out)
    if damage == "extra-line":
        with (out / "points.jsonl").open("a") as fh:
            fh.write('{"id": 99, "sparse": [[], []], "payload": {}}\n')
    elif damage == "short-dense":
        np.save(out / "dense.npy", np.load(out / "dense.npy")[:-1])
    else:
        meta = json.loads((out / "collection.json").read_text())
        (out / "collection.json").write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(BackupError, match=r"damaged|unreadable"):
        import_collection(QdrantServerStore(client, "dst"), out)


def test_dropping_a_store_behind_an_alias_deletes_its_collection():
    client = connect(":memory:")
    real = QdrantServerStore(client, "real")
    real.ensure(8)
    real.upsert(_points(3))
    server = ServerCollections(client, lambda n: QdrantServerStore(client, n), "p_")
    server.switch("name", "real")
    store = QdrantServerStore(client, "name")
    assert store.count() == 3 and server.resolve("name") == ("real", True)
    with pytest.raises(StoreError, match="is a collection"):
        server.switch("real", None)
    store.drop()
    assert not client.get_collections().collections and not client.get_aliases().aliases


def test_the_export_counts_against_the_rate_cap(deployment, tmp_path):
    from codeweaver.backup import ProjectRef
    from codeweaver.backup.server_projects import snapshot_server_project
    from codeweaver.backup.throttle import Throttle
    from codeweaver.index.lock import writer_lock

    class Counting(Throttle):
        def __init__(self) -> None:
            super().__init__(1.0)
            self.seen: list[int] = []

        def consume(self, nbytes: int) -> None:
            self.seen.append(nbytes)

    d = deployment
    throttle = Counting()
    out = tmp_path / "staged"
    info = snapshot_server_project(
        ProjectRef("proj", d.home / "projects" / "proj"),
        out,
        server=d.service.context.server_collections(),
        lock=writer_lock,
        lock_timeout=5,
        probes=3,
        throttle=throttle,
    )
    assert (info.store, info.points, info.probes) == ("server", 36, 3)
    dense = (out / "collection" / "dense.npy").stat().st_size
    rows = 36 * 64 * 4
    assert sum(throttle.seen) == rows + (out / "collection" / "points.jsonl").stat().st_size
    assert dense > rows  # plus the .npy header, which is not streamed
