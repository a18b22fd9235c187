"""Watch mode end to end: real files, a real watcher, the HashEmbedder twin."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from codeweaver.config import Settings
from codeweaver.container import build_engine
from codeweaver.index.lock import writer_lock
from codeweaver.search.service import SearchRequest
from codeweaver.workers.watch import WatchBatch, Watcher
from embedder_twin import HashEmbedder

WAIT = 10.0


def code(word: str) -> str:
    return f"def {word}(x):\n    '''{word} helper.'''\n    return x + 1\n"


def eventually(check: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def paths_with(engine, word: str) -> set[str]:
    hits = engine.search(SearchRequest(word, limit=50), "proj").hits
    return {h.path for h in hits if word in h.snippet}


@pytest.fixture
def watched(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / "a.py").write_text(code("alpha_original"))
    engine = build_engine(Settings(home=tmp_path / "home"), embedder=HashEmbedder())
    engine.index(root, "proj")
    batches: list[WatchBatch] = []
    watcher = Watcher(engine, root, "proj", debounce_ms=200, on_batch=batches.append)
    watcher.start()
    assert watcher.ready.wait(30)
    assert watcher.error is None
    batches.clear()  # the catch-up pass
    yield root, engine, batches
    watcher.stop()
    assert watcher.error is None
    engine.close()


def test_edit_add_delete_rename_become_searchable(watched):
    root, engine, _ = watched
    (root / "a.py").write_text(code("bravo_edited"))
    assert eventually(lambda: paths_with(engine, "bravo_edited") == {"a.py"})
    assert paths_with(engine, "alpha_original") == set()

    (root / "b.py").write_text(code("charlie_added"))
    assert eventually(lambda: paths_with(engine, "charlie_added") == {"b.py"})

    (root / "b.py").unlink()
    assert eventually(lambda: paths_with(engine, "charlie_added") == set())

    os.rename(root / "a.py", root / "c.py")
    assert eventually(lambda: paths_with(engine, "bravo_edited") == {"c.py"})
    assert engine.status("proj")["files"] == 2  # .gitignore, c.py


def test_atomic_save_is_picked_up(watched):
    root, engine, _ = watched
    tmp = root / ".a.py.swp-4913"
    tmp.write_text(code("delta_atomic"))
    os.replace(tmp, root / "a.py")
    assert eventually(lambda: paths_with(engine, "delta_atomic") == {"a.py"})
    assert eventually(lambda: engine.status("proj")["files"] == 2)  # .gitignore, a.py


def test_new_folder_and_folder_rename(watched):
    root, engine, _ = watched
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "sub" / "m.py").write_text(code("echo_nested"))
    assert eventually(lambda: paths_with(engine, "echo_nested") == {"pkg/sub/m.py"})
    os.rename(root / "pkg", root / "lib")
    assert eventually(lambda: paths_with(engine, "echo_nested") == {"lib/sub/m.py"})


def test_burst_is_one_batch_or_few(watched):
    root, engine, batches = watched
    gen = root / "gen"
    gen.mkdir()
    for i in range(200):
        (gen / f"f{i:03}.py").write_text(code(f"burst_{i:03}"))
    assert eventually(lambda: engine.status("proj")["files"] == 202, timeout=20)
    time.sleep(1.0)  # any straggling batch would have started by now
    assert 1 <= len(batches) <= 3, [len(b.paths) for b in batches]
    assert paths_with(engine, "burst_123") == {"gen/f123.py"}


def test_git_checkout_of_many_files_is_one_batch_or_few(watched):
    root, engine, batches = watched
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    (root / "many").mkdir()
    for i in range(300):
        (root / "many" / f"m{i:03}.py").write_text(code(f"before_{i:03}"))
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "one"], cwd=root, check=True)
    subprocess.run([*git, "checkout", "-qb", "two"], cwd=root, check=True)
    for i in range(300):
        (root / "many" / f"m{i:03}.py").write_text(code(f"after_{i:03}"))
    subprocess.run([*git, "commit", "-qam", "two"], cwd=root, check=True)
    assert eventually(lambda: paths_with(engine, "after_250") == {"many/m250.py"}, 30)
    time.sleep(1.0)
    batches.clear()
    subprocess.run([*git, "checkout", "-q", "-"], cwd=root, check=True)
    assert eventually(lambda: paths_with(engine, "before_250") == {"many/m250.py"}, 30)
    assert eventually(lambda: paths_with(engine, "after_007") == set())
    time.sleep(1.0)
    assert 1 <= len(batches) <= 3, [len(b.paths) for b in batches]


def test_ignored_changes_trigger_nothing(watched):
    root, engine, batches = watched
    (root / ".git" / "scratch").write_text("x")
    (root / ".git" / "refs" / "heads" / "topic").write_text("0" * 40 + "\n")
    (root / "build").mkdir()
    (root / "build" / "out.py").write_text(code("foxtrot_ignored"))
    (root / "run.log").write_text("log line\n")
    time.sleep(1.5)
    assert batches == []
    (root / "real.py").write_text(code("golf_real"))  # the watcher is alive
    assert eventually(lambda: paths_with(engine, "golf_real") == {"real.py"})
    assert eventually(lambda: [b.paths for b in batches] == [("real.py",)])
    assert paths_with(engine, "foxtrot_ignored") == set()


def test_gitignore_change_rechecks_the_project(watched):
    root, engine, batches = watched
    (root / "notes.py").write_text(code("hotel_notes"))
    assert eventually(lambda: paths_with(engine, "hotel_notes") == {"notes.py"})
    (root / ".gitignore").write_text("build/\n*.log\nnotes.py\n")
    assert eventually(lambda: paths_with(engine, "hotel_notes") == set())
    assert eventually(lambda: batches[-1].full)


def test_batch_waiting_on_another_writer_is_retried(watched, tmp_path):
    root, engine, _ = watched
    with writer_lock(tmp_path / "home" / "projects" / "proj", "proj"):
        (root / "late.py").write_text(code("lima_late"))
        time.sleep(1.5)
        assert paths_with(engine, "lima_late") == set()
    assert eventually(lambda: paths_with(engine, "lima_late") == {"late.py"})


def test_run_forever_stops_on_event(tmp_path):
    root = tmp_path / "plain"
    root.mkdir()
    (root / "x.py").write_text(code("india_plain"))
    engine = build_engine(Settings(home=tmp_path / "home"), embedder=HashEmbedder())
    watcher = Watcher(engine, root, "proj", debounce_ms=100)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run_forever, args=(stop,))
    thread.start()
    assert watcher.ready.wait(30)
    assert paths_with(engine, "india_plain") == {"x.py"}  # the catch-up pass indexed it
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    engine.close()


def test_rejects_bad_debounce(tmp_path):
    engine = build_engine(Settings(home=tmp_path / "home"), embedder=HashEmbedder())
    with pytest.raises(ValueError):
        Watcher(engine, tmp_path, debounce_ms=0)
    engine.close()


def test_cli_watch_indexes_prints_batches_and_stops_on_sigterm(tmp_path):
    root = tmp_path / "cliproj"
    root.mkdir()
    (root / "a.py").write_text(code("juliet_first"))
    env = {**os.environ, "CODEWEAVER_HOME": str(tmp_path / "home")}
    cmd = [sys.executable, "-m", "codeweaver.cli.app", "watch", str(root), "-p", "w"]
    lines: queue.Queue[str] = queue.Queue()
    with subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as proc:
        assert proc.stdout is not None
        reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout])
        reader.start()
        try:
            assert "1 indexed" in wait_for(lines, "w: 1 files")
            wait_for(lines, "watching")
            time.sleep(1.0)  # let the catch-up pass finish
            (root / "b.py").write_text(code("kilo_second"))
            assert "1 indexed" in wait_for(lines, "b.py")
            proc.send_signal(signal.SIGTERM)
            wait_for(lines, "stopped", timeout=20)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            reader.join(10)


def wait_for(lines: queue.Queue[str], text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if text in line:
            return line
    raise AssertionError(f"no line with {text!r}")
