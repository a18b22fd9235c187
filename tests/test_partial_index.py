"""Path-restricted discovery and indexing (what watch mode runs after each batch)."""

from __future__ import annotations

import subprocess

import pytest

from codeweaver.core.bm25 import Bm25Encoder
from codeweaver.index.discovery import discover
from codeweaver.index.manifest import Manifest
from codeweaver.index.partial import discover_paths, ignored_paths, is_vcs_path
from codeweaver.index.pipeline import Indexer, IndexOptions
from embedder_twin import HashEmbedder
from store_twin import MemoryStore


def tree(root, git: bool) -> None:
    root.mkdir()
    if git:
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / ".gitignore").write_text("build/\n*.log\n!keep.log\n")
    (root / "src" / "deep").mkdir(parents=True)
    (root / "src" / ".gitignore").write_text("gen_*.py\n")
    (root / "src" / "a.py").write_text("def a():\n    return 1\n")
    (root / "src" / "gen_x.py").write_text("x = 1\n")
    (root / "src" / "deep" / "b.py").write_text("def b():\n    return 2\n")
    (root / "build").mkdir()
    (root / "build" / "out.py").write_text("o = 1\n")
    (root / "run.log").write_text("log\n")
    (root / "keep.log").write_text("kept\n")
    (root / "vendor").mkdir()
    (root / "vendor" / "v.py").write_text("v = 1\n")


@pytest.mark.parametrize("git", [True, False], ids=["git", "plain"])
def test_ignored_paths_match_discovery(tmp_path, git):
    root = tmp_path / "p"
    tree(root, git)
    rels = [
        "src/a.py",
        "src/gen_x.py",
        "src/deep/b.py",
        "build/out.py",
        "build",
        "run.log",
        "keep.log",
        "vendor/v.py",
        ".git/HEAD",
        "src/gone.py",  # deleted paths can be judged too
        "build/gone.py",
    ]
    ignored = ignored_paths(root, rels, exclude=["vendor/"], use_git=git)
    assert ignored == {
        "src/gen_x.py",
        "build/out.py",
        "build",
        "run.log",
        "vendor/v.py",
        ".git/HEAD",
        "build/gone.py",
    }
    listed = {f.path for f in discover(root, exclude=["vendor/"], use_git=git).files}
    assert listed == {r for r in rels if r not in ignored and (root / r).is_file()} | {
        ".gitignore",
        "src/.gitignore",
    }


@pytest.mark.parametrize("git", [True, False], ids=["git", "plain"])
def test_discover_paths_expands_folders_and_skips_missing(tmp_path, git):
    root = tmp_path / "p"
    tree(root, git)
    found = discover_paths(root, ["src", "build", "run.log", "nope.py", ".git"], use_git=git)
    assert sorted(f.path for f in found.files) == ["src/.gitignore", "src/a.py", "src/deep/b.py"]
    assert found.via_git is git
    one = discover_paths(root, ["src/deep/b.py"], use_git=git)
    assert [f.path for f in one.files] == ["src/deep/b.py"]


def test_vcs_paths():
    assert is_vcs_path(".git/HEAD") and is_vcs_path("sub/.hg") and not is_vcs_path("a.git/x")


def make(root, n=6):
    root.mkdir()
    for i in range(n):
        (root / f"m{i}.py").write_text(f"def f{i}():\n    return {i}\n")


def indexer(store, manifest, emb):
    opts = IndexOptions(batch_chunks=8, use_git=False)
    return Indexer(store, emb, Bm25Encoder(), manifest, opts)


def test_run_with_paths_looks_only_at_those_paths(tmp_path):
    root = tmp_path / "p"
    make(root)
    store, manifest, emb = MemoryStore(), Manifest(tmp_path / "m.sqlite"), HashEmbedder()
    indexer(store, manifest, emb).run(root, "p")
    (root / "m0.py").write_text("def changed():\n    return 0\n")
    (root / "m1.py").write_text("def also_changed():\n    return 1\n")  # outside the scope
    (root / "m2.py").unlink()
    (root / "m3.py").unlink()  # outside the scope: left alone
    (root / "new.py").write_text("def new():\n    return 9\n")
    texts = emb.texts
    stats = indexer(store, manifest, emb).run(root, "p", paths=["m0.py", "m2.py", "new.py"])
    assert (stats.files_indexed, stats.files_deleted) == (2, 1)
    assert (stats.files_total, stats.files_unchanged) == (6, 4)
    assert emb.texts == texts + 2
    files = manifest.files()
    assert "m2.py" not in files and "m3.py" in files and "new.py" in files
    assert store.paths() == set(files)
    # a full incremental run afterwards catches up with the rest
    stats = indexer(store, manifest, emb).run(root, "p")
    assert (stats.files_indexed, stats.files_deleted) == (1, 1)
    assert store.paths() == set(manifest.files()) == {"m0.py", "m1.py", "m4.py", "m5.py", "new.py"}


def test_run_with_a_folder_path_covers_files_under_it(tmp_path):
    root = tmp_path / "p"
    make(root, 1)
    (root / "pkg").mkdir()
    (root / "pkg" / "x.py").write_text("def x():\n    return 1\n")
    store, manifest, emb = MemoryStore(), Manifest(tmp_path / "m.sqlite"), HashEmbedder()
    indexer(store, manifest, emb).run(root, "p")
    (root / "pkg").rename(root / "lib")
    stats = indexer(store, manifest, emb).run(root, "p", paths=["pkg", "lib"])
    assert (stats.files_indexed, stats.files_deleted) == (1, 1)
    assert set(manifest.files()) == store.paths() == {"m0.py", "lib/x.py"}


def test_partial_run_keeps_other_failures(tmp_path):
    root = tmp_path / "p"
    make(root, 2)
    (root / "bad.py").write_bytes(b"\xff\xfe not utf8")
    store, manifest, emb = MemoryStore(), Manifest(tmp_path / "m.sqlite"), HashEmbedder()
    indexer(store, manifest, emb).run(root, "p")
    assert [p for p, _ in manifest.failures()] == ["bad.py"]
    (root / "m0.py").write_text("def z():\n    return 3\n")
    indexer(store, manifest, emb).run(root, "p", paths=["m0.py"])
    assert [p for p, _ in manifest.failures()] == ["bad.py"]
    (root / "bad.py").unlink()
    indexer(store, manifest, emb).run(root, "p", paths=["bad.py"])
    assert manifest.failures() == []
