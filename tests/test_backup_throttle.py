"""The backup's rate cap, its rate-capped hole-keeping copies, its background priority."""

from __future__ import annotations

import hashlib
import io
import os
import threading

import pytest

from codeweaver.backup.filecopy import (
    HashingWriter,
    copy_file,
    copy_sparse,
    copy_tree,
    sha256_stream,
)
from codeweaver.backup.manifest import sha256_file
from codeweaver.backup.throttle import Throttle

MiB = 1 << 20


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _throttle(rate: float) -> tuple[Throttle, FakeClock]:
    clock = FakeClock()
    return Throttle(rate, clock=clock, sleep=clock.sleep), clock


def test_the_cap_spreads_bytes_over_time():
    throttle, clock = _throttle(10)
    for _ in range(50):
        throttle.consume(MiB)  # work itself takes no time on the fake clock
    assert clock.now - 100.0 == pytest.approx(5.0)
    assert throttle.waited == pytest.approx(5.0)


def test_slow_work_is_not_slowed_further():
    throttle, clock = _throttle(10)
    for _ in range(20):
        clock.now += 0.2  # 1 MiB per 0.2 s = 5 MiB/s, under the cap
        throttle.consume(MiB)
    assert clock.slept == []


def test_idle_time_is_made_up_for_only_briefly():
    throttle, clock = _throttle(10)
    clock.now += 60  # a long pause earns no burst of 600 MiB
    for _ in range(10):
        throttle.consume(MiB)
    assert clock.now - 160.0 == pytest.approx(0.9)


def test_zero_means_no_cap_and_negative_is_refused():
    throttle, clock = _throttle(0)
    throttle.consume(10**12)
    assert clock.slept == [] and not throttle.limited
    with pytest.raises(ValueError):
        Throttle(-1)


def test_threads_share_one_budget():
    clock = FakeClock()  # frozen: each consume waits for all bytes consumed before it
    throttle = Throttle(100, clock=clock, sleep=lambda s: None)
    threads = [
        threading.Thread(target=lambda: [throttle.consume(MiB) for _ in range(16)])
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert throttle.waited == pytest.approx(sum((i + 1) / 100 for i in range(128)), rel=1e-6)


def test_copy_tree_keeps_content_holes_and_times(tmp_path):
    src = tmp_path / "shard"
    (src / "segments" / "a").mkdir(parents=True)
    data = os.urandom(3000) + bytes(4 * MiB) + os.urandom(10)
    (src / "segments" / "a" / "data.bin").write_bytes(data)
    (src / "wal").write_bytes(b"log")
    os.utime(src / "wal", (1_000_000, 1_000_000))
    (src / "empty").mkdir()
    throttle, clock = _throttle(1)
    copy_tree(src, tmp_path / "copy", throttle)
    copied = tmp_path / "copy" / "segments" / "a" / "data.bin"
    assert copied.read_bytes() == data
    assert copied.stat().st_blocks * 512 < 2 * MiB  # the 4 MiB of zeros are holes
    assert (tmp_path / "copy" / "wal").stat().st_mtime == 1_000_000
    assert (tmp_path / "copy" / "empty").is_dir()
    # only blocks holding data count against the cap: the first MiB, the last 3010 bytes
    # and the 3-byte log
    assert clock.now - 100.0 == pytest.approx((MiB + 3010 + 3) / MiB)


def test_copy_file_reads_only_the_data_of_sparse_files(tmp_path):
    src = tmp_path / "segment.dat"
    with src.open("wb") as fh:  # 64 MiB apparent, 2 small data runs
        fh.write(b"head")
        fh.seek(40 * MiB)
        fh.write(os.urandom(5000))
        fh.truncate(64 * MiB)
    throttle, clock = _throttle(1)
    copy_file(src, tmp_path / "copy.dat", throttle)
    copied = tmp_path / "copy.dat"
    assert copied.stat().st_size == 64 * MiB and copied.stat().st_blocks * 512 < MiB
    with src.open("rb") as a, copied.open("rb") as b:
        assert sha256_stream(a) == sha256_stream(b)
    assert clock.now - 100.0 < 2.5  # the data extents, not 64 MiB at 1 MiB/s


def test_copy_tree_refuses_links(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "link").symlink_to("/etc/passwd")
    with pytest.raises(Exception, match="symbolic link"):
        copy_tree(tmp_path / "src", tmp_path / "dst")


def test_streamed_checksums_match(tmp_path):
    data = os.urandom(3 * MiB + 17)
    (tmp_path / "f").write_bytes(data)
    throttle, _ = _throttle(100)

    want = hashlib.sha256(data).hexdigest()
    assert sha256_file(tmp_path / "f", throttle) == want
    assert sha256_stream(io.BytesIO(data)) == want
    out = io.BytesIO()
    writer = HashingWriter(out)
    for start in range(0, len(data), MiB):
        writer.write(data[start : start + MiB])
    assert writer.hexdigest() == want and writer.size == len(data) == len(out.getvalue())
    copied = io.BytesIO()
    copy_sparse(io.BytesIO(bytes(MiB) + data), copied, throttle)
    assert copied.getvalue() == bytes(MiB) + data


def test_background_process_runs_at_idle_priority():
    from codeweaver.backup.priority import background_process

    with background_process() as pool:
        policy = pool.submit(os.sched_getscheduler, 0).result()
        parent = os.sched_getscheduler(0)
    assert policy == os.SCHED_IDLE and parent != os.SCHED_IDLE


def test_backup_jobs_record_success_failure_and_crashes():
    from codeweaver.api.backup_jobs import BackupJobs
    from codeweaver.errors import BackupError, NotFoundError

    jobs = BackupJobs()
    ended: list[str] = []
    gate = threading.Event()

    def ok() -> dict:
        gate.wait(10)
        return {"backup_id": "b", "verification": {"ok": True, "problems": []}}

    done = threading.Event()

    def finished(job) -> None:
        ended.append(job.state)
        done.set()

    first = jobs.submit(ok, finished)
    with pytest.raises(BackupError, match=first.job_id):
        jobs.submit(ok, finished)
    gate.set()
    assert done.wait(10) and jobs.get(first.job_id).state == "succeeded"
    outcomes = {
        "unverified": lambda: {"verification": {"ok": False, "problems": ["checksum x"]}},
        "error": lambda: (_ for _ in ()).throw(BackupError("disk full")),
        "crash": lambda: (_ for _ in ()).throw(RuntimeError("boom")),
    }
    errors = {}
    for name, run in outcomes.items():
        done.clear()
        job = jobs.submit(run, finished)
        assert done.wait(10)
        errors[name] = jobs.get(job.job_id).as_dict()
    assert {e["state"] for e in errors.values()} == {"failed"}
    assert errors["unverified"]["error"] == "checksum x"
    assert errors["error"]["error"] == "disk full"
    assert "RuntimeError: boom" in errors["crash"]["error"]
    assert ended == ["succeeded", "failed", "failed", "failed"]
    with pytest.raises(NotFoundError):
        jobs.get("bkj_nope")


def test_create_removes_what_killed_runs_left(tmp_path):
    from codeweaver.config import Settings
    from codeweaver.container import build_backup_service

    settings = Settings(home=tmp_path / "home", backup={"dest": (tmp_path / "v").as_uri()})
    work = settings.home / ".backup-work"
    old_verify, new_verify, staging = (
        work / "verify-20260101T000000Z-aaaaaa",
        work / "verify-20260102T000000Z-bbbbbb",
        work / "20260101T000000Z-cccccc",
    )
    for folder in (old_verify, new_verify, staging):
        (folder / "data").mkdir(parents=True)
    os.utime(old_verify, (1_000_000, 1_000_000))
    made = build_backup_service(settings).create(verify=False)
    assert "no projects indexed" in made["notes"]
    assert not old_verify.exists() and not staging.exists()
    assert new_verify.is_dir()  # a verification may still be using it
