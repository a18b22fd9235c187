"""Backup building blocks: safe extraction, manifest, retention, journaled swap."""

from __future__ import annotations

import io
import json
import os
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codeweaver.backup import swap as swap_mod
from codeweaver.backup.archive import check_files, extract_safely, list_files, pack
from codeweaver.backup.create import normalize_components, public_settings
from codeweaver.backup.manifest import (
    BackupManifest,
    CollectionInfo,
    FileEntry,
    new_backup_id,
    sha256_file,
    validate_backup_id,
)
from codeweaver.backup.prune import BackupEntry, plan_prune
from codeweaver.backup.restore import version_problem
from codeweaver.backup.swap import Swap, journal_path, rollback_interrupted, swap_in
from codeweaver.config import Settings
from codeweaver.errors import BackupError, InputError


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def test_pack_and_extract_round_trip(tmp_path):
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "b" / "f.bin").write_bytes(os.urandom(5000))
    (src / "top.txt").write_text("hello")
    files = list_files(src)
    assert [f.path for f in files] == ["a/b/f.bin", "top.txt"]
    packed, archive = pack(src, tmp_path / "x.tar.gz")
    assert packed == files  # checksums taken while packing equal a separate pass
    assert archive == FileEntry(
        "x.tar.gz", sha256_file(tmp_path / "x.tar.gz"), (tmp_path / "x.tar.gz").stat().st_size
    )
    names = extract_safely(tmp_path / "x.tar.gz", tmp_path / "out")
    assert check_files(tmp_path / "out", files, names) == []
    (tmp_path / "out" / "top.txt").write_text("HELLO")
    assert check_files(tmp_path / "out", files, names) == ["checksum mismatch top.txt"]
    assert check_files(tmp_path / "out", files, names[:1]) == ["missing file top.txt"]


@pytest.mark.parametrize(
    "member",
    [
        _file("../escape.txt"),
        _file("/etc/evil"),
        _file("a/../../escape"),
        _link("link", "/etc/passwd", tarfile.SYMTYPE),
        _link("hard", "/etc/passwd", tarfile.LNKTYPE),
        _link("inside", "ok.txt", tarfile.SYMTYPE),
    ],
    ids=["dotdot", "absolute", "nested-dotdot", "symlink", "hardlink", "symlink-inside"],
)
def test_extraction_refuses_unsafe_members_and_writes_nothing(tmp_path, member):
    archive = _tar(tmp_path / "bad.tar.gz", [_file("ok.txt"), member])
    target = tmp_path / "t" / "out"
    with pytest.raises(InputError):
        extract_safely(archive, target)
    assert not target.exists()
    assert not (tmp_path / "t" / "escape.txt").exists()


def test_damaged_archive_is_a_clear_error(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(os.urandom(100_000))
    pack(src, tmp_path / "a.tar.gz")
    raw = (tmp_path / "a.tar.gz").read_bytes()
    (tmp_path / "a.tar.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="damaged"):
        extract_safely(tmp_path / "a.tar.gz", tmp_path / "out")


def test_manifest_json_round_trip_and_ids():
    bid = new_backup_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert bid.startswith("20260102T030405Z-") and validate_backup_id(bid) == bid
    for bad in ("../x", "20260102T030405Z-../..", "", "x" * 23):
        with pytest.raises(InputError):
            validate_backup_id(bad)
    m = BackupManifest(
        backup_id=bid,
        created_at="2026-01-02T03:04:05+00:00",
        codeweaver_version="0.1.0",
        components=["collections", "manifests"],
        collections=[CollectionInfo("p", "edge", 10, 3, "m", 384, 2)],
        files=[FileEntry("projects/p/project.json", "ab" * 32, 12)],
        archive=FileEntry("backup.tar.gz", "cd" * 32, 3 * 1_048_576),
    )
    data = json.loads(m.to_json())
    assert data["size_mb"] == 3.0 and data["schema_version"] == 1
    again = BackupManifest.from_json(m.to_json(), source="t")
    assert again == m
    with pytest.raises(InputError, match="unreadable"):
        BackupManifest.from_json(b'{"format": "other"}', source="t")


def test_components_travel_together_and_unknown_is_refused():
    assert normalize_components(["manifests"]) == ["collections", "manifests"]
    assert normalize_components(None) == ["collections", "manifests", "identity", "settings"]
    with pytest.raises(InputError, match="unknown backup component"):
        normalize_components(["metrics-everything"])


def test_settings_component_has_no_secrets():
    s = Settings(
        qdrant={"api_key": "qk-secret"},
        backup={"s3_secret_access_key": "s3-secret", "s3_access_key_id": "AKIA-ID"},
    )
    text = json.dumps(public_settings(s))
    assert "qk-secret" not in text and "s3-secret" not in text and "AKIA-ID" not in text
    assert public_settings(s)["search"]["rrf_k"] == s.search.rrf_k


def test_version_checks():
    assert version_problem("0.1.0", "0.1.0") is None
    assert version_problem("0.1.0", "0.2.3") is None
    assert "0.3.0" in (version_problem("0.3.0", "0.2.0") or "")
    assert version_problem("1.0.0", "2.0.0") is not None


def _entry(days_ago: float, complete: bool = True, verified: bool = False, n: int = 0):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    when = now - timedelta(days=days_ago)
    return BackupEntry(f"{when:%Y%m%dT%H%M%SZ}-{n:06x}", when, complete, verified)


def test_prune_policy():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    old_verified = _entry(40, verified=True, n=1)
    old = _entry(35, n=2)
    recent = _entry(2, n=3)
    stale_partial = _entry(0.5, complete=False, n=4)
    fresh_partial = _entry(0.01, complete=False, n=5)
    entries = [old_verified, old, recent, stale_partial, fresh_partial]
    doomed = plan_prune(entries, now, keep_days=30, keep_last=0)
    # the newest verified backup survives even past the window; a fresh partial may be uploading
    assert doomed == [old.backup_id, stale_partial.backup_id]
    assert plan_prune(entries, now, keep_days=1, keep_last=2) == [stale_partial.backup_id]
    newer_verified = _entry(1, verified=True, n=6)
    doomed = plan_prune([*entries, newer_verified], now, keep_days=30, keep_last=0)
    assert old_verified.backup_id in doomed and newer_verified.backup_id not in doomed
    assert plan_prune([old], now, keep_days=0, keep_last=1) == []


def _tree(home: Path) -> dict[str, str]:
    return {
        str(p.relative_to(home)): p.read_text()
        for p in sorted(home.rglob("*"))
        if p.is_file() and ".restore" not in p.parts
    }


def _swap_setup(tmp_path):
    home = tmp_path / "home"
    for name in ("a", "b"):
        (home / "projects" / name).mkdir(parents=True)
        (home / "projects" / name / "data").write_text(f"old {name}")
    (home / "identity.db").write_text("old identity")
    work = home / ".restore" / "r1"
    swaps = []
    for name in ("a", "b", "c"):
        new = work / "data" / "projects" / name
        new.mkdir(parents=True)
        (new / "data").write_text(f"new {name}")
        live = home / "projects" / name
        swaps.append(Swap(str(live), str(new), str(work / "previous" / name), live.exists()))
    (work / "data" / "identity.db").write_text("new identity")
    swaps.append(
        Swap(
            str(home / "identity.db"),
            str(work / "data" / "identity.db"),
            str(work / "previous" / "identity.db"),
            True,
        )
    )
    return home, work, swaps


def test_swap_in_moves_everything(tmp_path):
    home, work, swaps = _swap_setup(tmp_path)
    swap_in(home, swaps, work)
    assert _tree(home) == {
        "identity.db": "new identity",
        "projects/a/data": "new a",
        "projects/b/data": "new b",
        "projects/c/data": "new c",
    }
    assert not work.exists() and not journal_path(home).exists()


@pytest.mark.parametrize("fail_at", range(1, 8))
def test_a_failing_swap_rolls_back_completely(tmp_path, monkeypatch, fail_at):
    home, work, swaps = _swap_setup(tmp_path)
    before = _tree(home)
    real_rename = os.rename
    calls = {"n": 0}

    def flaky(src, dst):
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise OSError("disk went away")
        return real_rename(src, dst)

    monkeypatch.setattr(swap_mod.os, "rename", flaky)
    with pytest.raises(BackupError, match="rolled back"):
        swap_in(home, swaps, work)
    assert _tree(home) == before


@pytest.mark.parametrize("done_renames", range(0, 8))
def test_a_swap_killed_midway_is_rolled_back_by_the_next_run(tmp_path, done_renames):
    """Replays the journal a killed process leaves after ``done_renames`` renames."""
    home, work, swaps = _swap_setup(tmp_path)
    before = _tree(home)
    swap_mod._write_journal(journal_path(home), "swapping", swaps, work)
    renames = 0
    for s in swaps:
        steps = ([(s.live, s.old)] if s.existed else []) + [(s.new, s.live)]
        for src, dst in steps:
            if renames == done_renames:
                break
            Path(dst).parent.mkdir(parents=True, exist_ok=True)
            os.rename(src, dst)
            renames += 1
    assert rollback_interrupted(home)
    assert _tree(home) == before
    assert not journal_path(home).exists()


def test_probe_comparison_tolerates_only_tie_order():
    from codeweaver.backup.project_data import same_results

    a = [("x", 0.9), ("y", 0.5), ("z", 0.5), ("w", 0.1), ("v", 0.1)]
    assert same_results(a, [("x", 0.9), ("z", 0.5), ("y", 0.5), ("v", 0.1), ("w", 0.1)])
    assert same_results(a, [("x", 0.9), ("y", 0.5), ("z", 0.5), ("w", 0.1), ("u", 0.1)])
    assert not same_results(a, [("x", 0.9), ("y", 0.5), ("q", 0.5), ("w", 0.1), ("v", 0.1)])
    assert not same_results(a, [("x", 0.8), ("y", 0.5), ("z", 0.5), ("w", 0.1), ("v", 0.1)])
    assert not same_results(a, a[:4])


def test_extraction_keeps_zero_runs_sparse(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    data = os.urandom(1000) + bytes(8 << 20) + os.urandom(1000) + bytes(70_000)
    (src / "sparse.bin").write_bytes(data)
    files, _ = pack(src, tmp_path / "a.tar.gz")
    names = extract_safely(tmp_path / "a.tar.gz", tmp_path / "out")
    assert check_files(tmp_path / "out", files, names) == []
    restored = tmp_path / "out" / "sparse.bin"
    assert restored.read_bytes() == data
    assert restored.stat().st_blocks * 512 < 2 << 20  # the 8 MiB of zeros are holes


def test_a_failed_check_after_the_swap_rolls_back(tmp_path):
    home, work, swaps = _swap_setup(tmp_path)
    before = _tree(home)
    seen = []

    def check():
        seen.append(_tree(home)["projects/a/data"])
        return ["probe returned other results"]

    with pytest.raises(BackupError, match="failed its check"):
        swap_in(home, swaps, work, check)
    assert seen == ["new a"] and _tree(home) == before


def test_server_mode_backup_of_an_unreachable_server_is_a_clear_error(tmp_path):
    from codeweaver.container import build_backup_service
    from codeweaver.index.projects import ProjectRegistry

    settings = Settings(
        home=tmp_path / "home",
        qdrant={"mode": "server", "url": "http://127.0.0.1:9"},
        backup={"dest": (tmp_path / "vault").as_uri()},
    )
    ProjectRegistry(settings.home).ensure("proj", tmp_path)
    service = build_backup_service(settings)
    with pytest.raises(BackupError, match=r"project 'proj': could not .* in Qdrant"):
        service.create()
    made = service.create(components=["settings"])  # the rest still works
    assert made["verification"]["ok"] and made["components"] == ["settings"]
    assert not [p for p in (settings.home / ".backup-work").iterdir() if p.is_dir()]
