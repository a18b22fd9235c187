"""Path attacks on indexing and file reads, against a real ``codeweaver serve`` over
HTTP and MCP-over-HTTP (and the CLI where a local user is the one at risk).

Remote callers index only inside their allowed roots, never the data home or a secret
file's location, get one answer for every refused path, cannot tell another tenant's
project from a missing folder, never get content from outside a project root through
a symlinked folder, never make git run a repository's commands, and cannot flood the
index queue. Both edges read files through one service and answer alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from attack_server import OUTSIDE, PASSWORD, Server, attack_server, refused
from codeweaver.index.manifest import Manifest
from codeweaver.index.roots import PATH_REFUSED

SECRET_TEXT = "API-KEY-THAT-MUST-NEVER-BE-INDEXED"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("attack-paths")
    for folder, name in (("keys", "api.key"), ("tokens", "prom.token")):
        (tmp / folder).mkdir()
        (tmp / folder / name).write_text(SECRET_TEXT + "\n")
    (tmp / "globex-more").mkdir()
    (tmp / "globex-more" / "more.py").write_text("def more_globex():\n    return 2\n")
    extra = {
        "CODEWEAVER_INDEX__TENANT_ROOTS": json.dumps(
            {"globex": [str(tmp / "globex-src"), str(tmp / "globex-more")], "initech": []}
        ),
        "CODEWEAVER_INDEX__MAX_QUEUED_JOBS": "2",
        "CODEWEAVER_EMBEDDING__API_KEY_FILE": str(tmp / "keys" / "api.key"),
        "CODEWEAVER_BACKUP__PROMETHEUS_TOKEN_FILE": str(tmp / "tokens" / "prom.token"),
        "CODEWEAVER_AUTH__USER_BURST": "2000",
    }
    with attack_server(tmp, "sqlite", extra) as srv:
        admin = srv.admin()
        admin.add_user("im", "manager", "initech", PASSWORD)
        admin.add_user("root", "admin", "initech", PASSWORD)
        admin.store.db.close()
        yield srv


# ------------------------------------------------------------------ helpers
def _index(srv: Server, user: str, path: str, project: str | None = None, **kw: Any):
    body: dict[str, Any] = {"path": path, **kw}
    if project is not None:
        body["project"] = project
    return srv.client.post("/api/v1/index", json=body, headers=srv.auth(user))


def _job(srv: Server, user: str, job_id: str) -> dict[str, Any]:
    return dict(srv.client.get(f"/api/v1/jobs/{job_id}", headers=srv.auth(user)).json())


def _wait(srv: Server, user: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        job = _job(srv, user, job_id)
        if job["state"] in ("succeeded", "failed"):
            return dict(job)
        assert time.monotonic() < deadline, job
        time.sleep(0.3)


def _mcp(srv: Server, user: str, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Each ``(tool, arguments)`` called in one MCP-over-HTTP session as ``user``."""

    async def go() -> list[Any]:
        client = httpx.AsyncClient(headers=srv.auth(user), timeout=120)
        async with (
            client,
            streamable_http_client(f"{srv.base}/mcp", http_client=client) as (read, write),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            return [await s.call_tool(tool, args) for tool, args in calls]

    return anyio.run(go)


def _text(result: Any) -> str:
    """A tool's answer; for an error, its message without the SDK's prefix."""
    text = str(result.content[0].text)
    if result.is_error and text.startswith("Error executing tool "):
        return text.split(": ", 1)[1]
    return text


def _no_leak(text: str) -> None:
    for leak in (SECRET_TEXT, OUTSIDE.strip(), "globex_ledger_total", "jwt.secret"):
        assert leak not in text


# ------------------------------------------------- 1: server paths & secrets
def _refused_paths(srv: Server) -> list[str]:
    tmp, home = srv.tmp, srv.home
    (tmp / "link-to-home").symlink_to(home, target_is_directory=True)
    return [
        str(home),
        str(home / "auth"),
        str(home / "projects"),
        str(home / "projects" / "acme"),
        str(tmp),  # contains the data home
        str(tmp / "keys"),  # embedding.api_key_file lives here
        str(tmp / "tokens"),  # backup.prometheus_token_file lives here
        str(tmp / "link-to-home"),  # a symlink inside the allowed root, to the home
        str(tmp / "acme-src" / ".." / "home"),
        "/etc",  # outside the allowed roots
        "/",
        "~",
        "~/",
        "home",  # relative: never resolved against the server's folder
        "acme-src",
        str(tmp / "no-such-folder"),
        str(tmp / "acme-src" / "upload.py"),  # a file
    ]


def test_remote_index_of_server_paths_is_refused_alike(server):
    paths = _refused_paths(server)
    for path in paths:
        r = _index(server, "am", path, "loot")
        refused(server, r, 404)
        assert r.json()["error"]["message"] == PATH_REFUSED, path
        _no_leak(r.text)
        assert server.audit(r.headers["x-request-id"], event="authz.denied")
    results = _mcp(
        server, "am", [("index_codebase", {"path": p, "project": "loot"}) for p in paths]
    )
    for path, result in zip(paths, results, strict=True):
        assert result.is_error and _text(result) == PATH_REFUSED, (path, _text(result))
    denied = server.audit(event="authz.denied", user="am", route="mcp:index_codebase")
    assert len(denied) >= len(paths)
    assert all("index path refused" in d["reason"] for d in denied)
    # nothing was created, and a folder inside the allowed root is still indexed
    listed = server.client.get("/api/v1/projects", headers=server.auth("am")).json()
    assert "loot" not in {p["project"] for p in listed["projects"]}
    free = server.tmp / "acme-free"
    free.mkdir()
    (free / "ok.py").write_text("def acme_free_helper():\n    return 3\n")
    assert index_project_as(server, "am", free, "acme-free")["tenant"] == "acme"


def test_other_tenants_projects_and_names_get_uniform_answers(server):
    # overlapping another tenant's project root, missing, a file: the same answer
    (server.globex / "sub").mkdir(exist_ok=True)
    probes = [
        server.globex,
        server.globex / "sub",
        server.tmp / "missing-folder",
        server.acme / "upload.py",
    ]
    answers = set()
    for path in probes:
        r = _index(server, "am", str(path), "probe")
        refused(server, r, 404)
        answers.add((r.status_code, r.json()["error"]["message"]))
    assert answers == {(404, PATH_REFUSED)}
    # another tenant's project name: "not available", never its root or its tenant
    spare = server.tmp / "acme-spare"
    spare.mkdir()
    (spare / "s.py").write_text("def spare():\n    return 4\n")
    r = _index(server, "am", str(spare), "globex")
    refused(server, r, 404)
    message = r.json()["error"]["message"]
    assert message == "project name 'globex' is not available; choose another name"
    assert str(server.globex) not in r.text and "known" not in message
    (result,) = _mcp(server, "am", [("index_codebase", {"path": str(spare), "project": "globex"})])
    assert result.is_error and _text(result) == message


def test_tenant_roots_limit_a_tenant_to_its_own_folders(server):
    r = _index(server, "gm", str(server.tmp / "globex-more"), "globex-more")
    assert r.status_code == 202, r.text
    assert _wait(server, "gm", r.json()["job_id"])["state"] == "succeeded"
    outside = server.tmp / "acme-only"  # inside index.allowed_roots, not globex's roots
    outside.mkdir()
    (outside / "a.py").write_text("def acme_only():\n    return 5\n")
    r = _index(server, "gm", str(outside), "grab")
    refused(server, r, 404)
    assert r.json()["error"]["message"] == PATH_REFUSED
    (result,) = _mcp(server, "gm", [("index_codebase", {"path": str(outside), "project": "g"})])
    assert result.is_error and _text(result) == PATH_REFUSED


def test_without_roots_only_admins_index_server_folders(server):
    folder = server.tmp / "initech-src"
    folder.mkdir()
    (folder / "tps.py").write_text("def tps_report_cover():\n    return 6\n")
    r = _index(server, "im", str(folder), "initech")
    refused(server, r, 403)
    assert "index.allowed_roots" in r.json()["error"]["message"]
    (result,) = _mcp(server, "im", [("index_codebase", {"path": str(folder)})])
    assert result.is_error and "index.allowed_roots" in _text(result)
    assert server.audit(event="authz.denied", user="im", route="mcp:index_codebase")
    # an admin may index any folder then, but still never the data home
    r = _index(server, "root", str(server.home), "loot")
    refused(server, r, 404)
    assert r.json()["error"]["message"] == PATH_REFUSED
    r = _index(server, "root", str(folder), "initech")
    assert r.status_code == 202, r.text
    assert _wait(server, "root", r.json()["job_id"])["state"] == "succeeded"


# ------------------------------------------------- 18: symlinked folders
def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_symlinked_folders_never_serve_outside_content(server):
    repo = server.tmp / "linked-repo"
    (repo / "sub").mkdir(parents=True)
    (repo / "pkg").mkdir()
    (repo / "main.py").write_text("def linked_main():\n    return 7\n")
    (repo / "sub" / "outside.txt").write_text("placeholder\n")
    (repo / "pkg" / "a.py").write_text("def pkg_a():\n    return 8\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "init")
    # git still lists sub/outside.txt, but sub/ now leads outside the root
    elsewhere = server.tmp / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "outside.txt").write_text(OUTSIDE)
    for name in ("sub",):
        for f in (repo / name).iterdir():
            f.unlink()
        (repo / name).rmdir()
        (repo / name).symlink_to(elsewhere, target_is_directory=True)
    index_project_as(server, "am", repo, "linked")
    alice = server.auth("alice")
    url = "/api/v1/projects/linked/files"
    r = server.client.get(url, params={"path": "sub/outside.txt"}, headers=alice)
    assert r.status_code == 404 and OUTSIDE.strip() not in r.text
    r = server.client.post(
        "/api/v1/search", json={"query": OUTSIDE, "project": "linked"}, headers=alice
    )
    assert r.status_code == 200 and OUTSIDE.strip() not in r.text
    # a folder swapped for a link after indexing is not followed when a file is served
    (elsewhere / "a.py").write_text(OUTSIDE)
    (repo / "pkg" / "a.py").unlink()
    (repo / "pkg").rmdir()
    (repo / "pkg").symlink_to(elsewhere, target_is_directory=True)
    r = server.client.get(url, params={"path": "pkg/a.py"}, headers=alice)
    refused(server, r, 422)
    assert "outside the project root" in r.json()["error"]["message"]
    got = _mcp(
        server,
        "alice",
        [
            ("get_code", {"project": "linked", "path": "pkg/a.py"}),
            ("get_code", {"project": "linked", "path": "sub/outside.txt"}),
        ],
    )
    assert all(g.is_error for g in got)
    assert "outside the project root" in _text(got[0]) and "not indexed" in _text(got[1])
    for g in got:
        _no_leak(_text(g))


def index_project_as(srv: Server, user: str, root: Path, project: str) -> dict[str, Any]:
    r = _index(srv, user, str(root), project)
    assert r.status_code == 202, r.text
    job = _wait(srv, user, r.json()["job_id"])
    assert job["state"] == "succeeded", job
    return job


# ------------------------------------------------- 5: git runs no repo commands
def _hostile_repo(folder: Path, marker: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "tracked.py").write_text("def tracked_function():\n    return 9\n")
    (folder / "excluded_by_git.py").write_text("def only_git_excludes_this():\n    return 0\n")
    _git(folder, "init", "-q")
    _git(folder, "add", "tracked.py")
    _git(folder, "commit", "-qm", "init")
    hook = folder.parent / f"{folder.name}-hook.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    _git(folder, "config", "core.fsmonitor", str(hook))
    _git(folder, "config", "core.hooksPath", str(folder.parent))
    (folder / ".git" / "info").mkdir(exist_ok=True)
    (folder / ".git" / "info" / "exclude").write_text("excluded_by_git.py\n")
    return folder


def test_git_config_cannot_run_commands_when_the_server_indexes(server):
    marker = server.tmp / "fsmonitor-ran-on-server"
    repo = _hostile_repo(server.tmp / "hostile", marker)
    job = index_project_as(server, "am", repo, "hostile")
    assert not marker.exists()
    assert job["files_total"] == 1 and job["stats"]["files_indexed"] == 1  # git listed it
    r = server.client.get(
        "/api/v1/projects/hostile/files", params={"path": "tracked.py"}, headers=server.auth("am")
    )
    assert r.status_code == 200 and "tracked_function" in r.json()["content"]


def test_git_config_cannot_run_commands_and_home_is_skipped_by_the_cli(tmp_path):
    marker = tmp_path / "fsmonitor-ran-in-cli"
    repo = _hostile_repo(tmp_path / "local", marker)
    home = repo / "cw-home"  # the data home inside the folder a local user indexes
    env = {**os.environ, "CODEWEAVER_HOME": str(home)}
    cmd = [sys.executable, "-m", "codeweaver.cli.app", "index", str(repo), "--project", "local"]
    for _ in range(2):  # the second run sees the first run's data files in the folder
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
    assert not marker.exists()
    with Manifest(home / "projects" / "local" / "manifest.sqlite") as manifest:
        assert sorted(manifest.files()) == ["tracked.py"]


# ------------------------------------------------- 20b: bounded index queue
def test_index_queue_is_capped_per_tenant(server):
    bulk = server.tmp / "bulk"
    bulk.mkdir()
    for i in range(500):
        tag = uuid.uuid4().hex
        (bulk / f"m{i}.py").write_text(f"def handler_{tag}(request):\n    return '{tag}'\n")
    r = _index(server, "am", str(bulk), "bulk")
    accepted = [r.json()["job_id"]]
    deadline = time.monotonic() + 60
    while _job(server, "am", accepted[0])["state"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    limited = None
    for _ in range(5):  # the running job holds the project: these wait in the queue
        r = _index(server, "am", str(bulk), "bulk", full=True)
        if r.status_code == 429:
            limited = r
            break
        assert r.status_code == 202, r.text
        accepted.append(r.json()["job_id"])
    assert limited is not None and len(accepted) == 3  # one running + max_queued_jobs
    refused(server, limited, 429)
    assert int(limited.headers["retry-after"]) >= 1
    assert "index.max_queued_jobs" in limited.json()["error"]["message"]
    (result,) = _mcp(server, "am", [("index_codebase", {"path": str(bulk), "project": "bulk"})])
    assert result.is_error and "index.max_queued_jobs" in _text(result)
    # another tenant's queue is its own
    r = _index(server, "gm", str(server.tmp / "globex-more"), "globex-more")
    assert r.status_code == 202, r.text
    for job_id in accepted:
        assert _wait(server, "am", job_id)["state"] == "succeeded"
    _wait(server, "gm", r.json()["job_id"])


# ------------------------------------------------- one file service, both edges
FILE_INPUTS = [
    "upload.py",
    "./upload.py",
    ".//upload.py",
    "a\\b.py",
    ".\\upload.py",
    "/etc/passwd",
    "C:/upload.py",
    "../outside.txt",
    "x/../upload.py",
    "upload.py\x00.txt",
    "nope.py",
    " ",
]


def test_both_edges_read_files_by_the_same_rules(server):
    alice = server.auth("alice")
    calls = [("get_code", {"project": "acme", "path": p}) for p in FILE_INPUTS]
    calls += [
        ("get_code", {"project": "acme", "path": "upload.py", "start_line": 2, "end_line": 3})
    ]
    calls += [("structural_search", {"project": "acme", "pattern": "def $F($$$A): $$$B",
                                     "language": "python"})]  # fmt: skip
    results = _mcp(server, "alice", calls)
    for path, result in zip(FILE_INPUTS, results, strict=False):
        r = server.client.get("/api/v1/projects/acme/files", params={"path": path}, headers=alice)
        if r.status_code == 200:
            assert not result.is_error, (path, _text(result))
            assert result.structured_content == r.json(), path
        else:
            assert result.is_error, (path, r.text)
            assert _text(result) == r.json()["error"]["message"], path
            _no_leak(r.text)
    assert results[1].structured_content["path"] == "upload.py"  # ./ normalised
    assert results[0].structured_content["language"] == "python"
    r = server.client.get(
        "/api/v1/projects/acme/files",
        params={"path": "upload.py", "start_line": 2, "end_line": 3},
        headers=alice,
    )
    assert results[-2].structured_content == r.json()
    r = server.client.post(
        "/api/v1/structural-search",
        json={"project": "acme", "pattern": "def $F($$$A): $$$B", "language": "python"},
        headers=alice,
    )
    assert results[-1].structured_content == r.json()
    assert {m["path"] for m in r.json()["matches"]} >= {"upload.py"}
