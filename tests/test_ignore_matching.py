"""Ignore files and excludes: git's semantics, in time linear in the path, bounded reads.

Outside git (or with ``index.use_git`` off) discovery applies ``.gitignore`` files itself,
and everywhere the ``index.exclude`` patterns. Every answer is checked against git itself
(``git ls-files --others`` in a real repository). A hostile repository's ignore file
(stars that make a backtracking regex run for minutes, a FIFO, a huge file, a symlink)
must neither stall an index job nor, through the GIL, the searches of other tenants in the
same ``codeweaver serve`` process.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from attack_server import Server, attack_server
from codeweaver.config import load_settings
from codeweaver.container import build_engine
from codeweaver.errors import ConfigError
from codeweaver.index import ignore
from codeweaver.index.discovery import discover
from codeweaver.index.ignore import MAX_IGNORE_BYTES, MAX_IGNORE_RULES
from codeweaver.index.manifest import Manifest
from codeweaver.index.partial import discover_paths, ignored_paths

GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
HOSTILE = "*_*_*_*_*_*_*_*q"  # a backtracking regex tries every way to place the stars
LONG = "_" * 64


def _git(cwd: Path, *args: str) -> str:
    cmd = ["git", "-c", f"core.excludesFile={os.devnull}", *args]
    out = subprocess.run(cmd, cwd=cwd, env=GIT_ENV, capture_output=True, check=True)
    return out.stdout.decode("utf-8", "surrogateescape")


def _git_kept(repo: Path, *extra: str) -> list[str]:
    """The files git lists as neither tracked nor ignored."""
    out = _git(repo, "ls-files", "-z", "--others", "--exclude-standard", *extra)
    return sorted(p for p in out.split("\0") if p)


def _repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q")
    return path


def _clear(repo: Path) -> None:
    for entry in repo.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _all_files(root: Path) -> list[str]:
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        base = Path(folder).relative_to(root).as_posix()
        found += [n if base == "." else f"{base}/{n}" for n in names]
    return sorted(found)


def _paths(result: Any) -> list[str]:
    return sorted(f.path for f in result.files)


def write(root: Path, rel: str, text: str = "x = 1\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ------------------------------------------------- semantics, checked against git
SEMANTICS = {
    ".gitignore": "\n".join(
        [
            "# a comment, then a blank line",
            "",
            r"\#hash.txt",
            r"\!bang.txt",
            "*.log",
            "!keep.log",
            "build/",
            "!build/keep.py",  # under an ignored folder: stays ignored
            "/rooted.txt",
            "docs/**/*.tmp",
            "**/cache",
            "trailing.txt   ",
            "space\\ ",
            "sub/*.md",
            "only-dir/",
            "lib/[a-c]?.py",
            "lib/[!a-z]*.py",
            "*.[[:digit:]]",
            "deep/**",
            "!deep/again.py",  # "deep/**" ignores files, not the folder: re-included
        ]
    )
    + "\r\n",
    "src/.gitignore": "secret.py\n/local.txt\n!debug.log\n",
    "src/inner/.gitignore": "*.py\n!wanted.py\n",
}
FILES = [
    "#hash.txt",
    "!bang.txt",
    "app.log",
    "keep.log",
    "build/out.py",
    "build/keep.py",
    "rooted.txt",
    "src/rooted.txt",
    "docs/a.tmp",
    "docs/x/y/b.tmp",
    "docs/x/keep.md",
    "cache",
    "src/cache/c.py",
    "trailing.txt",
    "space ",
    "sub/readme.md",
    "x/sub/readme.md",
    "only-dir",
    "x/only-dir/f.py",
    "lib/b1.py",
    "lib/d1.py",
    "lib/_x.py",
    "lib/zz.py",
    "notes.1",
    "notes.a",
    "deep/again.py",
    "deep/gone.py",
    "src/secret.py",
    "src/x/secret.py",
    "src/local.txt",
    "src/x/local.txt",
    "src/debug.log",
    "src/inner/a.py",
    "src/inner/wanted.py",
    "src/inner/readme.md",
    "src/app.py",
]
KEPT = [
    ".gitignore",
    "deep/again.py",
    "docs/x/keep.md",
    "keep.log",
    "lib/d1.py",
    "lib/zz.py",
    "notes.a",
    "only-dir",
    "src/.gitignore",
    "src/app.py",
    "src/debug.log",
    "src/inner/.gitignore",
    "src/inner/readme.md",
    "src/inner/wanted.py",
    "src/rooted.txt",
    "src/x/local.txt",
    "x/sub/readme.md",
]


def test_gitignore_rules_mean_what_they_mean_to_git(tmp_path):
    repo = _repo(tmp_path / "repo")
    for rel in FILES:
        write(repo, rel)
    for rel, text in SEMANTICS.items():
        write(repo, rel, text)
    assert _git_kept(repo) == KEPT  # the expectation is git's
    assert _paths(discover(repo, use_git=False)) == KEPT
    everything = _all_files(repo)
    ignored = ignored_paths(repo, everything, use_git=False)
    assert sorted(set(everything) - ignored) == KEPT
    assert ignored_paths(repo, ["build", "src/inner", "deep"], use_git=False) == {"build"}
    assert _paths(discover_paths(repo, ["src", "build"], use_git=False)) == [
        p for p in KEPT if p.startswith("src/")
    ]


def test_exclude_patterns_keep_a_folder_excluded_and_cannot_reinclude_vcs_folders(tmp_path):
    root = _repo(tmp_path / "repo")  # git lists .hg/ and .svn/ files: the excludes drop them
    for rel in ("vendor/lib.py", "vendor/keep.py", "app.py", ".hg/store.py", "a/.svn/x.py"):
        write(root, rel)
    exclude = ["vendor/", "!vendor/keep.py", "!.hg/", "!.svn/"]
    for use_git in (True, False):
        assert _paths(discover(root, exclude=exclude, use_git=use_git)) == ["app.py"]
        rels = ["vendor/keep.py", "app.py", ".hg/store.py"]
        assert ignored_paths(root, rels, exclude=exclude, use_git=use_git) == {
            "vendor/keep.py",
            ".hg/store.py",
        }


NAMES = ["a", "b", "ab", "a_b", ".x", "x.py", "b.py", "ba", "[a]", "a b", "!a", "#a", "a1"]
SEGMENTS = [
    *("a", "b", "*", "**", "***", "?", "[ab]", "[!a]", "[^a]*", "a*", "*a", "*_*", "x?"),
    *("[a-c]*", "*.py", "\\*", "\\!a", "\\#a", "a\\ b", "a b", "[]a]", "[!]]", "[\\]a]"),
    *("[a-]", "[-a]", "[\\a-c]", "b\\*[]a]", "[[:alpha:]]*", "a[[:digit:][:upper:]]"),
]


def _pattern(rng: random.Random) -> str:
    text = "/".join(rng.choice(SEGMENTS) for _ in range(rng.randint(1, 3)))
    text = rng.choice(["", "", "", "/", "**/"]) + text
    return rng.choice(["", "", "", "!"]) + text + rng.choice(["", "", "/", "/**", " ", "\\ "])


def _random_tree(rng: random.Random, root: Path, ignore_files: bool) -> None:
    folders = [root]
    for _ in range(rng.randint(3, 14)):
        parent = rng.choice(folders)
        path = parent / rng.choice(NAMES)
        if len(parent.relative_to(root).parts) >= 3 or rng.random() < 0.5:
            if not path.exists():
                path.write_text("x")
        elif not path.exists() or path.is_dir():
            path.mkdir(exist_ok=True)
            folders.append(path)
    if ignore_files:
        for folder in folders:
            if rng.random() < (0.9 if folder == root else 0.4):
                lines = [_pattern(rng) for _ in range(rng.randint(1, 5))]
                (folder / ".gitignore").write_text("\n".join(lines) + "\n")


def test_random_trees_and_ignore_files_agree_with_git(tmp_path):
    repo = _repo(tmp_path / "repo")
    rng = random.Random(20260101)
    compared = ignored_total = 0
    for _ in range(200):
        _clear(repo)
        _random_tree(rng, repo, ignore_files=True)
        kept = _git_kept(repo)
        assert _paths(discover(repo, use_git=False)) == kept
        everything = _all_files(repo)
        ignored = ignored_paths(repo, everything, use_git=False)
        assert sorted(set(everything) - ignored) == kept
        for top in {p.split("/")[0] for p in everything if "/" in p}:
            below = discover_paths(repo, [top], use_git=False)
            assert _paths(below) == [p for p in kept if p.startswith(top + "/")]
        compared += len(everything)
        ignored_total += len(ignored)
    assert compared > 1000 and ignored_total > 120, (compared, ignored_total)


def test_random_exclude_patterns_agree_with_git(tmp_path):
    repo = _repo(tmp_path / "repo")
    patterns_file = tmp_path / "patterns"
    rng = random.Random(7)
    compared = excluded_total = 0
    for _ in range(200):
        _clear(repo)
        _random_tree(rng, repo, ignore_files=False)
        exclude = [_pattern(rng) for _ in range(rng.randint(1, 5))]
        patterns_file.write_text("\n".join(exclude) + "\n")
        kept = _git_kept(repo, f"--exclude-from={patterns_file}")
        assert _paths(discover(repo, exclude=exclude)) == kept  # git lists, excludes filter
        assert _paths(discover(repo, exclude=exclude, use_git=False)) == kept
        everything = _all_files(repo)
        excluded = ignored_paths(repo, everything, exclude=exclude, use_git=False)
        assert sorted(set(everything) - excluded) == kept
        compared += len(everything)
        excluded_total += len(excluded)
    assert compared > 600 and excluded_total > 120, (compared, excluded_total)


# ------------------------------------------------- linear time
def _hostile_tree(root: Path, long: str = LONG) -> Path:
    write(root, ".gitignore", f"{HOSTILE}\n*.log\nbuild/\n!build/keep.py\n")
    for i in range(3):
        write(root, f"{long}{i}.py", f"def long_name_{i}():\n    return {i}\n")
        write(root, f"pkg/{long}/{long}{i}.txt", f"long text {i}\n")
    write(root, f"{long}q", "ignored by the hostile pattern\n")
    write(root, "debug.log", "log\n")
    write(root, "build/keep.py", "x = 1\n")
    return root


HOSTILE_KEPT = sorted(
    [".gitignore"]
    + [f"{LONG}{i}.py" for i in range(3)]
    + [f"pkg/{LONG}/{LONG}{i}.txt" for i in range(3)]
)


def _timed(fn: Any, *args: Any, **kw: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn(*args, **kw)
    return result, time.perf_counter() - started


def test_hostile_patterns_are_matched_in_linear_time(tmp_path):
    root = _hostile_tree(tmp_path / "hostile", "_" * 40)  # a regex needs seconds per name
    kept = sorted(p.replace(LONG, "_" * 40) for p in HOSTILE_KEPT)
    found, took = _timed(discover, root, use_git=False)
    assert _paths(found) == kept and took < 0.5
    everything = _all_files(root)
    ignored, took = _timed(ignored_paths, root, everything, use_git=False)
    assert sorted(set(everything) - ignored) == kept and took < 0.5
    found, took = _timed(discover, root, exclude=[HOSTILE], use_git=False)
    assert _paths(found) == kept and took < 0.5
    ignored, took = _timed(ignored_paths, root, everything, exclude=[HOSTILE], use_git=False)
    assert sorted(set(everything) - ignored) == kept and took < 0.5
    # inside git, git applies the .gitignore (its own matcher is slow on it too): the
    # hostile pattern as an exclude filters what git lists
    (root / ".gitignore").write_text("*.log\nbuild/\n!build/keep.py\n")
    _repo(root)
    found, took = _timed(discover, root, exclude=[HOSTILE])
    assert found.via_git and _paths(found) == kept and took < 0.5


# ------------------------------------------------- bounded reads
def test_a_huge_ignore_file_is_read_up_to_its_limit(tmp_path, caplog):
    root = tmp_path / "huge"
    filler = "# " + "x" * 1000 + "\n"
    text = "first.txt\n" + filler * (MAX_IGNORE_BYTES // len(filler) + 1) + "last.txt\n"
    write(root, ".gitignore", text)
    write(root, "first.txt")
    write(root, "last.txt")
    with caplog.at_level(logging.WARNING, logger="codeweaver.index"):
        assert _paths(discover(root)) == [".gitignore", "last.txt"]
    assert f"larger than {MAX_IGNORE_BYTES} bytes" in caplog.text


def test_only_the_first_rules_of_a_long_ignore_file_are_used(tmp_path, caplog):
    root = tmp_path / "long"
    rules = [f"r{i}.txt" for i in range(MAX_IGNORE_RULES)] + ["late.txt"]
    write(root, ".gitignore", "\n".join(rules) + "\n")
    write(root, "r0.txt")
    write(root, "late.txt")
    with caplog.at_level(logging.WARNING, logger="codeweaver.index"):
        assert _paths(discover(root)) == [".gitignore", "late.txt"]
    assert f"only the first {MAX_IGNORE_RULES} rules" in caplog.text


def test_deeper_ignore_files_get_what_the_ones_above_left(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(ignore, "MAX_IGNORE_RULES", 12)
    root = tmp_path / "chain"
    write(root, ".gitignore", "".join(f"r{i}.txt\n" for i in range(8)))
    write(root, "sub/.gitignore", "a.txt\nb.txt\nc.txt\nd.txt\nlate.txt\n")
    for rel in ("r0.txt", "sub/r7.txt", "sub/d.txt", "sub/late.txt", "other/late.txt"):
        write(root, rel)
    with caplog.at_level(logging.WARNING, logger="codeweaver.index"):
        kept = _paths(discover(root))
    assert kept == [".gitignore", "other/late.txt", "sub/.gitignore", "sub/late.txt"]
    assert "sub/.gitignore: only the first 4 rules are used" in caplog.text


def test_ignore_files_past_the_total_budget_are_not_read(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(ignore, "MAX_TOTAL_IGNORE_RULES", 6)
    root = tmp_path / "many"
    for name in ("a", "b", "c", "d"):
        write(root, f"{name}/.gitignore", "x.txt\ny.txt\n")
        write(root, f"{name}/x.txt")
    with caplog.at_level(logging.WARNING, logger="codeweaver.index"):
        (kept,) = [p for p in _paths(discover(root)) if p.endswith("x.txt")]
    folder = kept.split("/")[0]  # the other three spent the budget
    assert f"{folder}/.gitignore: not read, 6 ignore rules were read already" in caplog.text


def test_a_fifo_ignore_file_does_not_block_discovery(tmp_path):
    root = tmp_path / "fifo"
    write(root, "app.py")
    os.mkfifo(root / ".gitignore")
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(discover(root)), daemon=True)
    worker.start()
    worker.join(10)
    try:
        assert done and _paths(done[0]) == ["app.py"]
    finally:
        if worker.is_alive():  # the old reader waits for a writer: give it one
            os.close(os.open(root / ".gitignore", os.O_WRONLY | os.O_NONBLOCK))
            worker.join(10)


def test_a_symlinked_ignore_file_is_not_followed_as_in_git(tmp_path):
    repo = _repo(tmp_path / "repo")
    write(tmp_path, "rules", "*.py\n")
    write(repo, "app.py")
    write(repo, "sub/mod.py")
    (repo / ".gitignore").symlink_to(tmp_path / "rules")
    (repo / "sub" / ".gitignore").symlink_to(repo / ".gitignore")
    kept = _git_kept(repo)
    assert "app.py" in kept and "sub/mod.py" in kept
    assert [p for p in _paths(discover(repo, use_git=False)) if p.endswith(".py")] == [
        "app.py",
        "sub/mod.py",
    ]


# ------------------------------------------------- settings and the CLI
def _cli(args: list[str], cwd: Path, home: Path, timeout: float = 180) -> Any:
    env = {**os.environ, "CODEWEAVER_HOME": str(home), "XDG_CONFIG_HOME": str(home / "xdg")}
    cmd = [sys.executable, "-m", "codeweaver.cli.app", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_a_bad_exclude_pattern_is_a_one_line_setting_error(tmp_path):
    settings = load_settings(home=tmp_path / "h", index={"exclude": ["build/", "src/[ab"]})
    with pytest.raises(ConfigError) as info:
        build_engine(settings)
    message = str(info.value)
    assert "index.exclude" in message and "'[' is never closed" in message
    folder = tmp_path / "proj"
    write(folder, "app.py")
    write(folder, "codeweaver.toml", '[index]\nexclude = ["docs/", "tail\\\\"]\n')
    for args in (["index", str(folder), "--project", "proj"], ["serve", "--port", "0"]):
        out = _cli(args, folder, tmp_path / "home", 120)
        assert out.returncode == 2, out.stderr
        assert "index.exclude" in out.stderr and "lone" in out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_cli_indexes_a_hostile_folder_quickly(tmp_path):
    folder = _hostile_tree(tmp_path / "hostile")
    write(folder, "codeweaver.toml", f'[index]\nexclude = ["{HOSTILE}", "*.toml"]\n')
    home = tmp_path / "home"
    args = ["index", str(folder), "--project", "hostile"]
    out, took = _timed(_cli, args, folder, home, 90)
    assert out.returncode == 0, out.stderr
    assert took < 60, took  # a backtracking match of one name alone takes about a minute
    with Manifest(home / "projects" / "hostile" / "manifest.sqlite") as manifest:
        assert sorted(manifest.files()) == HOSTILE_KEPT


# ------------------------------------------------- a real server: one tenant's job
@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("ignore-attack")
    with attack_server(tmp, "sqlite", {"CODEWEAVER_AUTH__USER_BURST": "1000"}) as srv:
        yield srv


def _search_globex(srv: Server) -> float:
    started = time.perf_counter()
    r = srv.client.post(
        "/api/v1/search",
        json={"query": "ledger total", "project": "globex", "limit": 3},
        headers=srv.auth("gm"),
        timeout=15,
    )
    assert r.status_code == 200, r.text
    assert "globex_ledger_total" in r.text
    return time.perf_counter() - started


def _job(srv: Server, job_id: str) -> dict[str, Any]:
    r = srv.client.get(f"/api/v1/jobs/{job_id}", headers=srv.auth("am"), timeout=15)
    return dict(r.json())


def _file_status(srv: Server, project: str, path: str) -> int:
    r = srv.client.get(
        f"/api/v1/projects/{project}/files", params={"path": path}, headers=srv.auth("am")
    )
    return r.status_code


def test_a_hostile_gitignore_neither_stalls_its_job_nor_other_tenants(server):
    folder = _hostile_tree(server.tmp / "hostile-http")
    _search_globex(server)  # warm
    r = server.client.post(
        "/api/v1/index",
        json={"path": str(folder), "project": "hostile"},
        headers=server.auth("am"),
    )
    assert r.status_code == 202, r.text
    job_id, started, latencies = r.json()["job_id"], time.monotonic(), []
    while (job := _job(server, job_id))["state"] not in ("succeeded", "failed"):
        assert time.monotonic() - started < 60, job
        latencies.append(_search_globex(server))
        time.sleep(0.05)
    latencies.append(_search_globex(server))
    assert job["state"] == "succeeded", job
    assert max(latencies) < 5, latencies  # a regex holding the GIL stalled these for minutes
    assert job["stats"]["files_indexed"] == len(HOSTILE_KEPT)
    assert _file_status(server, "hostile", f"{LONG}0.py") == 200
    for ignored in (f"{LONG}q", "debug.log", "build/keep.py"):
        assert _file_status(server, "hostile", ignored) == 404


def test_a_hostile_gitignore_indexed_over_mcp_finishes_quickly(server):
    folder = _hostile_tree(server.tmp / "hostile-mcp")

    async def go() -> Any:
        client = httpx.AsyncClient(headers=server.auth("am"), timeout=120)
        async with (
            client,
            streamable_http_client(f"{server.base}/mcp", http_client=client) as (read, write),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            return await s.call_tool("index_codebase", {"path": str(folder), "project": "hm"})

    result, took = _timed(anyio.run, go)
    assert not result.is_error, result.content[0].text
    assert result.structured_content["files_indexed"] == len(HOSTILE_KEPT)
    assert took < 60, took
    assert _search_globex(server) < 5
