"""One owner per data directory, with real processes: ``serve``, ``watch``, background
owners, stdio MCP clients and CLI commands on the same data directory at once."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import anyio
import pytest

from owner_helpers import (
    BAD,
    CLI,
    alive,
    cli,
    env_for,
    mcp_sessions,
    ok_json,
    record,
    serve,
    stop_owner,
    tool,
    wait_for,
)
from test_crash_resume import make_project, points_by_id, recorded_files

UPLOAD = '''def upload_with_retry(client, path, attempts=3):
    """Upload a file, retrying on connection errors."""
    for attempt in range(attempts):
        try:
            return client.put(path)
        except ConnectionError:
            continue
'''
CONFIG = "def parse_config(text):\n    return dict(line.split('=') for line in text.splitlines())\n"
LEDGER = (
    "def frobnicate_widget_ledger(widgets):\n"
    '    """Frobnicate every widget of the ledger."""\n'
    "    return [w.frob() for w in widgets]\n"
)


LONG_IDLE = {"CODEWEAVER_OWNER__IDLE_TIMEOUT_SECONDS": "120"}


def _shop(tmp: Path) -> Path:
    root = tmp / "shop"
    root.mkdir()
    (root / "upload.py").write_text(UPLOAD)
    (root / "config.py").write_text(CONFIG)
    return root


def _top_path(found: dict) -> str:
    """The file of the first hit, from the CLI's or MCP's answer."""
    first = found["results"][0]
    return first["path"] if "path" in first else first["location"].partition(":")[0]


def _cli_search(home: Path, query: str) -> dict:
    return ok_json(cli(home, "search", query, "--json", "-p", "shop", timeout=120))


# ------------------------------------------------------------------ together
def test_serve_watch_mcp_and_cli_at_once(tmp_path: Path) -> None:
    home, root = tmp_path / "home", _shop(tmp_path)
    with serve(home, tmp_path / "serve.log"):
        stats = ok_json(cli(home, "index", str(root), "--json"))
        assert stats["project"] == "shop" and stats["files_total"] == 2
        watch = subprocess.Popen(
            [*CLI, "watch", str(root), "-p", "shop", "--debounce-ms", "50"],
            env=env_for(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert watch.stdout is not None
            while "watching" not in (line := watch.stdout.readline()):
                assert line, watch.stderr.read() if watch.stderr else ""
            anyio.run(_all_at_once, home, root, tmp_path)
        finally:
            watch.send_signal(signal.SIGINT)
            out, err = watch.communicate(timeout=30)
        assert watch.returncode == 0, err
        assert "frobnicate.py" in out and "stopped" in out  # the watcher saw the edit too
        for bad in BAD:
            assert bad not in err
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log and "WouldBlock" not in log


async def _all_at_once(home: Path, root: Path, tmp: Path) -> None:
    async with mcp_sessions(home, 3, tmp / "mcp.log") as sessions:
        pool = concurrent.futures.ThreadPoolExecutor(4)
        loop_cli = [
            pool.submit(_cli_search, home, "retry a failed upload"),
            pool.submit(lambda: ok_json(cli(home, "status", "--json", "-p", "shop"))),
        ]
        answers = []
        async with anyio.create_task_group() as tg:

            async def ask(s):
                answers.append(await tool(s, "search_code", query="retry a failed upload"))

            for s in sessions:
                tg.start_soon(ask, s)
        searched, status = (f.result() for f in loop_cli)
        assert status["files"] == 2 and status["state"] == "complete"
        assert {_top_path(a) for a in answers} == {_top_path(searched)} == {"upload.py"}
        projects = [await tool(s, "list_projects") for s in sessions]
        assert all([p["project"] for p in ps["projects"]] == ["shop"] for ps in projects)

        # an edit, indexed by the CLI (through the owner) while the watcher sees it too
        (root / "frobnicate.py").write_text(LEDGER)
        stats = ok_json(cli(home, "index", str(root), "--json"))
        assert stats["files_total"] == 3 and stats["failures"] == []  # or the watcher was first
        query = "frobnicate the widgets of the ledger"
        assert _top_path(_cli_search(home, query)) == "frobnicate.py"
        for s in sessions:
            assert _top_path(await tool(s, "search_code", query=query)) == "frobnicate.py"
        pool.shutdown()


# ------------------------------------------------------------------ crashes
def test_kill_9_owner_during_index_then_resume(tmp_path: Path) -> None:
    home, root = tmp_path / "home", tmp_path / "proj"
    root.mkdir()
    make_project(root)
    extra = {"CODEWEAVER_INDEX__BATCH_CHUNKS": "16"}
    assert cli(home, "daemon", "start", **extra, **LONG_IDLE).returncode == 0
    anyio.run(_crash_with_clients, home, root, tmp_path, extra)

    stop_owner(home)
    (root / "handlers_079.py").unlink()
    (root / "handlers_000.py").write_text("def only_one():\n    return 1\n")
    assert cli(home, "index", str(root)).returncode == 0  # no owner: runs in-process
    clean_home = tmp_path / "clean"
    assert cli(clean_home, "index", str(root)).returncode == 0
    resumed, clean = points_by_id(home), points_by_id(clean_home)
    assert len(resumed) == len(clean) == 79 * 5 - 4
    assert resumed == clean


async def _crash_with_clients(home: Path, root: Path, tmp: Path, extra: dict) -> None:
    async with mcp_sessions(home, 1, tmp / "mcp.log") as (session,):
        first = record(home)
        assert first is not None and first["kind"] == "daemon"
        index = subprocess.Popen(
            [*CLI, "index", str(root)],
            env=env_for(home, **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: recorded_files(home) >= 15 or index.poll() is not None, 300)
        assert index.poll() is None, "the run finished before it could be interrupted"
        os.kill(first["pid"], signal.SIGKILL)
        _out, err = index.communicate(timeout=60)
        assert index.returncode == 1
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and "stopped while answering" in lines[0], err
        assert 15 <= recorded_files(home) < 80

        # the MCP client carries on with a new owner: same projects, no WAL error
        listed = None
        for _ in range(3):
            result = await session.call_tool("list_projects", {})
            text = result.content[0].text  # type: ignore[union-attr]
            for bad in BAD:
                assert bad not in text
            if not result.is_error:
                listed = json.loads(text)
                break
            assert "owner stopped" in text
        assert listed is not None and [p["project"] for p in listed["projects"]] == ["proj"]
        second = record(home)
        assert second is not None and second["pid"] != first["pid"]


# ------------------------------------------------------------------ isolation
NOBODY = 65534
PROBE = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("denied"); sys.exit(0)
s.settimeout(10)
try:
    s.sendall(b"GET /owner/v1/projects HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n")
    data = s.recv(65536)
except (BrokenPipeError, ConnectionResetError):  # closed by the owner at once
    data = b""
print("closed" if not data else "answered " + data[:200].decode(errors="replace"))
"""


def _as_nobody(sock: Path) -> str:
    res = subprocess.run(
        ["/usr/bin/python3", "-I", "-c", PROBE, str(sock)],
        user=NOBODY,
        group=NOBODY,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a probe as another user")
def test_two_data_dirs_and_another_user(tmp_path: Path) -> None:
    # home-a where another user could walk to it (pytest's tmp folders are 0700)
    open_parent = Path(tempfile.mkdtemp(prefix="cw-owner-", dir="/tmp"))
    os.chmod(open_parent, 0o755)
    homes = [open_parent / "home-a", tmp_path / "home-b"]
    roots = []
    for i, home in enumerate(homes):
        root = tmp_path / f"src{i}"
        root.mkdir()
        (root / "only.py").write_text(UPLOAD if i == 0 else LEDGER)
        roots.append(root)
        assert cli(home, "daemon", "start", **LONG_IDLE).returncode == 0
        ok_json(cli(home, "index", str(root), "--json", "-p", f"p{i}"))
    try:
        a, b = record(homes[0]), record(homes[1])
        assert a and b and a["pid"] != b["pid"]
        for i, home in enumerate(homes):
            listed = ok_json(cli(home, "projects", "--json"))
            assert [p["project"] for p in listed["projects"]] == [f"p{i}"]
        found = ok_json(cli(homes[1], "search", "frobnicate widgets", "--json"))
        assert _top_path(found) == "only.py" and "frob" in found["results"][0]["snippet"]

        sock = homes[0] / "run" / "owner.sock"
        assert oct(sock.stat().st_mode & 0o777) == "0o600"
        assert oct(sock.parent.stat().st_mode & 0o777) == "0o700"
        assert _as_nobody(sock) == "denied"  # the file system keeps other users out
        # and with the permissions opened up, the owner itself refuses the peer
        modes = {p: p.stat().st_mode & 0o777 for p in (homes[0], sock.parent, sock)}
        for path in modes:
            os.chmod(path, 0o777 if path == sock else 0o755)
        try:
            assert _as_nobody(sock) == "closed"
        finally:
            for path, mode in modes.items():
                os.chmod(path, mode)
        audit = [json.loads(ln) for ln in (homes[0] / "audit.log").read_text().splitlines()]
        denied = [r for r in audit if r.get("route") == "owner-socket"]
        assert denied and denied[-1]["event"] == "authz.denied"
        assert denied[-1]["user"] == f"uid:{NOBODY}"
        assert ok_json(cli(homes[0], "projects", "--json"))["projects"]  # still serving
    finally:
        for home in homes:
            stop_owner(home)
        shutil.rmtree(open_parent, ignore_errors=True)


# ------------------------------------------------------------------ lifecycle
def _raw(sock: Path, request: bytes) -> bytes:
    """The whole answer to ``request`` (sent with ``Connection: close``)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock))
        s.sendall(request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
        s.settimeout(10)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_versions_stale_records_handover_and_idle_exit(tmp_path: Path) -> None:
    home, root = tmp_path / "home", _shop(tmp_path)
    assert cli(home, "daemon", "start").returncode == 0
    ok_json(cli(home, "index", str(root), "--json"))
    status = ok_json(cli(home, "daemon", "status", "--json"))
    assert status["running"] and status["kind"] == "daemon"

    # a client of another version: told so, and what to do
    path = home / "run" / "owner.json"
    real = path.read_text()
    path.write_text(json.dumps({**json.loads(real), "version": "0.0.1"}))
    res = cli(home, "search", "upload", "--json")
    assert res.returncode == 1 and "runs version 0.0.1" in res.stderr
    assert "codeweaver daemon stop" in res.stderr and len(res.stderr.splitlines()) == 1
    path.write_text(real)
    raw = _raw(
        home / "run" / "owner.sock",
        b"GET /owner/v1/projects HTTP/1.1\r\nHost: localhost\r\nX-CodeWeaver-Version: 9.9\r\n\r\n",
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert (
        head.startswith(b"HTTP/1.1 409") and b"client is 9.9" in json.loads(body)["error"].encode()
    )

    # serve takes over from the background owner
    daemon_pid = status["pid"]
    with serve(home, tmp_path / "serve.log"):
        assert not alive(daemon_pid)
        assert ok_json(cli(home, "daemon", "status", "--json"))["kind"] == "serve"
        assert ok_json(cli(home, "search", "retry upload", "--json"))["results"]
    assert record(home) is None  # serve removed its record when it stopped

    # a dead owner's record is stale: detected and replaced
    assert cli(home, "daemon", "start").returncode == 0
    dead = record(home)
    assert dead is not None
    os.kill(dead["pid"], signal.SIGKILL)
    wait_for(lambda: not alive(dead["pid"]), what="the owner to die")
    assert record(home) is not None  # left behind by the crash
    res = cli(home, "daemon", "status")
    assert res.returncode == 1 and "no owner runs" in res.stdout
    assert ok_json(cli(home, "search", "retry upload", "--json"))["results"]  # in-process
    assert cli(home, "daemon", "start").returncode == 0
    fresh = record(home)
    assert fresh is not None and fresh["pid"] != dead["pid"]

    # with nobody connected, a background owner exits after the idle timeout (3 s)
    wait_for(lambda: not alive(fresh["pid"]), timeout=30, what="the idle owner to exit")
    assert record(home) is None


def test_client_commands_stay_light(tmp_path: Path) -> None:
    """A search answered by the owner loads neither the model, the store nor the web stack."""
    home, root = tmp_path / "home", _shop(tmp_path)
    assert cli(home, "daemon", "start", **LONG_IDLE).returncode == 0
    try:
        ok_json(cli(home, "index", str(root), "--json"))
        res = subprocess.run(
            [*CLI[:1], "-X", "importtime", *CLI[1:], "search", "retry upload", "--json"],
            env=env_for(home),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode == 0, res.stderr[-2000:]
        assert json.loads(res.stdout)["results"][0]["path"] == "upload.py"
        loaded = {ln.split("|")[-1].strip() for ln in res.stderr.splitlines() if "|" in ln}
        heavy = {"onnxruntime", "qdrant_edge", "fastapi", "uvicorn", "starlette", "mcp", "numpy"}
        assert not heavy & loaded, heavy & loaded
        started = time.perf_counter()
        assert cli(home, "--help").returncode == 0
        assert time.perf_counter() - started < 30
    finally:
        stop_owner(home)


def test_restore_while_an_owner_runs(tmp_path: Path) -> None:
    """The owner closes its stores, swaps the backup in and reopens them, instead of the
    restore refusing because the data directory is in use."""
    home, root = tmp_path / "home", _shop(tmp_path)
    assert cli(home, "daemon", "start", **LONG_IDLE).returncode == 0
    try:
        ok_json(cli(home, "index", str(root), "--json"))
        made = ok_json(cli(home, "backup", "create", "--json"))
        (root / "frobnicate.py").write_text(LEDGER)
        assert ok_json(cli(home, "index", str(root), "--json"))["files_total"] == 3
        query = "frobnicate the widgets of the ledger"
        assert _top_path(_cli_search(home, query)) == "frobnicate.py"
        before = record(home)

        res = cli(home, "backup", "restore", made["backup_id"], "--json")
        report = ok_json(res)
        assert report["ok"] and "collections" in report["components_restored"]
        after = record(home)
        assert before and after and after["pid"] == before["pid"]  # the same owner
        status = ok_json(cli(home, "status", "--json", "-p", "shop"))
        assert status["files"] == 2  # the backup's state, served by the reopened stores
        assert _top_path(_cli_search(home, query)) != "frobnicate.py"
    finally:
        stop_owner(home)


@pytest.mark.parametrize("case", ["env", "config", "config-without-home", "user-file", "none"])
def test_quick_home_agrees_with_the_settings(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clients find the owner without loading the settings stack: the same home."""
    from codeweaver.config import load_settings
    from codeweaver.owner.locate import quick_home

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CODEWEAVER_HOME", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    config = None
    if case == "env":
        monkeypatch.setenv("CODEWEAVER_HOME", str(tmp_path / "from-env"))
    elif case.startswith("config"):
        config = tmp_path / "explicit.toml"
        home_line = f'home = "{tmp_path / "from-file"}"\n' if case == "config" else ""
        config.write_text(home_line + 'log_level = "info"\n')
    elif case == "user-file":
        user = tmp_path / "xdg" / "codeweaver" / "config.toml"
        user.parent.mkdir(parents=True)
        user.write_text(f'home = "{tmp_path / "from-user-file"}"\n')
    assert quick_home(config) == load_settings(config).home
