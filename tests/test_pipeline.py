"""The indexing pipeline against in-memory twins: incremental, crash-safe, consistent."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeweaver.core.bm25 import Bm25Encoder
from codeweaver.errors import InputError
from codeweaver.index.discovery import DiscoveredFile
from codeweaver.index.manifest import Manifest
from codeweaver.index.pipeline import Indexer, IndexOptions
from codeweaver.types import StoredPoint
from embedder_twin import HashEmbedder
from store_twin import MemoryStore


def make_project(root: Path, n: int = 12) -> None:
    for i in range(n):
        body = "\n\n".join(
            f"def func_{i}_{j}(x):\n    total = x + {j}\n    return total * {i}\n" for j in range(4)
        )
        (root / f"mod_{i}.py").write_text(body)


class FlakyStore(MemoryStore):
    """Fails on the n-th upsert, like a process killed mid-run."""

    def __init__(self, state=None, fail_on: int = 3) -> None:
        super().__init__(state)
        self.upserts = 0
        self.fail_on = fail_on

    def upsert(self, points: list[StoredPoint]) -> None:
        self.upserts += 1
        if self.upserts == self.fail_on:
            super().upsert(points[: len(points) // 2])  # half a batch lands
            raise RuntimeError("killed")
        super().upsert(points)


def indexer(store, manifest, embedder=None, batch=8):
    return Indexer(
        store,
        embedder or HashEmbedder(),
        Bm25Encoder(),
        manifest,
        IndexOptions(batch_chunks=batch, use_git=False),
    )


def consistent(store: MemoryStore, manifest: Manifest) -> None:
    files = manifest.files()
    assert store.count() == sum(r.chunks for r in files.values())
    assert store.paths() == {p for p, r in files.items() if r.chunks}


def test_full_then_incremental(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    make_project(root)
    store, manifest = MemoryStore(), Manifest(tmp_path / "m.sqlite")
    emb = HashEmbedder()
    stats = indexer(store, manifest, emb).run(root, "p")
    assert stats.files_indexed == 12 and stats.chunks_total == 48
    consistent(store, manifest)
    texts_before = emb.texts
    stats = indexer(store, manifest, emb).run(root, "p")
    assert stats.files_unchanged == 12 and emb.texts == texts_before
    (root / "mod_0.py").write_text("def only():\n    return 1\n")
    (root / "mod_1.py").unlink()
    (root / "mod_2.py").touch()  # same content, new mtime: no re-embedding
    stats = indexer(store, manifest, emb).run(root, "p")
    assert (stats.files_indexed, stats.files_deleted, stats.files_unchanged) == (1, 1, 10)
    assert emb.texts == texts_before + 1
    consistent(store, manifest)


def test_crash_mid_run_then_resume_converges(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    make_project(root)
    shared = MemoryStore()
    manifest = Manifest(tmp_path / "m.sqlite")
    flaky = FlakyStore(shared.state, fail_on=3)
    with pytest.raises(RuntimeError):
        indexer(flaky, manifest).run(root, "p")
    assert manifest.get("run_state") == "running"
    # a file removed while the run was dead leaves orphan points only the reconcile can find
    recorded = set(manifest.files())
    stored = shared.paths()
    orphan = sorted(stored - recorded)
    assert orphan, "the crash should leave points of an unrecorded file"
    (root / orphan[0]).unlink()
    stats = indexer(MemoryStore(shared.state), manifest).run(root, "p")
    assert stats.chunks_total == 44
    consistent(MemoryStore(shared.state), manifest)
    assert manifest.get("run_state") == "complete"


def test_model_mismatch_refused_unless_full(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    make_project(root, 2)
    store, manifest = MemoryStore(), Manifest(tmp_path / "m.sqlite")
    indexer(store, manifest, HashEmbedder(64, "a")).run(root, "p")
    with pytest.raises(InputError, match="re-index with --full"):
        indexer(store, manifest, HashEmbedder(32, "b")).run(root, "p")
    stats = indexer(store, manifest, HashEmbedder(32, "b")).run(root, "p", full=True)
    assert stats.chunks_total == 8
    consistent(store, manifest)


def test_progress_reports_files_and_chunks(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    make_project(root, 5)
    seen = []
    indexer(MemoryStore(), Manifest(tmp_path / "m.sqlite")).run(root, "p", on_progress=seen.append)
    assert seen[-1].files_done == seen[-1].files_total == 5
    assert seen[-1].chunks_done == 20
    assert [p.chunks_done for p in seen] == sorted(p.chunks_done for p in seen)


def test_unreadable_file_is_a_listed_failure(tmp_path, monkeypatch):
    root = tmp_path / "p"
    root.mkdir()
    make_project(root, 3)
    real = DiscoveredFile.read_bytes

    def read_bytes(self: DiscoveredFile, max_bytes: int | None = None) -> bytes:
        if self.path == "mod_1.py":
            raise PermissionError(13, "Permission denied")
        return real(self, max_bytes)

    monkeypatch.setattr(DiscoveredFile, "read_bytes", read_bytes)
    store, manifest = MemoryStore(), Manifest(tmp_path / "m.sqlite")
    stats = indexer(store, manifest).run(root, "p")
    assert stats.failures == (("mod_1.py", "cannot read: Permission denied"),)
    assert manifest.failures() == [("mod_1.py", "cannot read: Permission denied")]
    consistent(store, manifest)


def test_second_writer_is_refused_clearly(tmp_path):
    from codeweaver.errors import IndexingError
    from codeweaver.index.lock import writer_lock

    with (
        writer_lock(tmp_path, "p"),
        pytest.raises(IndexingError, match="being indexed"),
        writer_lock(tmp_path, "p"),
    ):
        pass
    with writer_lock(tmp_path, "p"):  # released after the first holder
        pass
