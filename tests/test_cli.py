"""The CLI end to end on the embedded defaults: real model, real Qdrant Edge shard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeweaver.cli.app import app
from codeweaver.cli.state import close_engine

runner = CliRunner()

PY = '''"""Upload helpers."""
import time


class Uploader:
    """Sends files to the bucket."""

    def __init__(self, client):
        self.client = client

    def upload_with_retry(self, path, attempts=3):
        for attempt in range(attempts):
            try:
                return self.client.put(path)
            except ConnectionError:
                time.sleep(2 ** attempt)
        raise RuntimeError("upload failed")


def parse_config(text):
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values
'''

GO = """package server

type Server struct { port int }

func (s *Server) Start() error {
    return listen(s.port)
}

func listen(port int) error { return nil }
"""

JS = """export function formatCurrency(amount, currency) {
  return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(amount);
}
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("CODEWEAVER_HOME", str(h))
    monkeypatch.chdir(tmp_path)
    yield h
    close_engine()


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "shop"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg/upload.py").write_text(PY)
    (root / "server.go").write_text(GO)
    (root / "web").mkdir()
    (root / "web/money.js").write_text(JS)
    (root / "README.md").write_text("# Shop\n\nA tiny shop.\n\n## Uploads\n\nRetries uploads.\n")
    return root


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    close_engine()
    return result


def one_json(output: str) -> dict:
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1, output
    return json.loads(lines[0])


def test_index_search_status_projects(home, project):
    res = invoke("index", str(project), "--json")
    assert res.exit_code == 0, res.output
    stats = one_json(res.stdout)
    assert stats["project"] == "shop" and stats["files_total"] == 4
    assert stats["chunks_total"] >= 6 and stats["failures"] == []

    res = invoke("search", "retry a failed upload", "--json", "--project", "shop")
    assert res.exit_code == 0, res.output
    out = one_json(res.stdout)
    assert set(out) == {"results", "took_ms"}
    first = out["results"][0]
    assert set(first) == {
        "path",
        "start_line",
        "end_line",
        "symbol",
        "kind",
        "language",
        "score",
        "snippet",
    }
    assert first["path"] == "pkg/upload.py" and first["symbol"] == "Uploader.upload_with_retry"
    assert (first["start_line"], first["end_line"]) == (11, 17)

    res = invoke("search", "parse_config", "--json", "--limit", "3")
    top = one_json(res.stdout)["results"][0]
    assert (top["symbol"], top["kind"], top["start_line"]) == ("parse_config", "function", 20)

    res = invoke("search", "Start", "--json", "--language", "go")
    results = one_json(res.stdout)["results"]
    assert results[0]["symbol"] == "Server.Start"
    assert {r["language"] for r in results} == {"go"}

    res = invoke("search", "currency", "--json", "--path", "web/")
    assert {r["path"] for r in one_json(res.stdout)["results"]} == {"web/money.js"}

    res = invoke("status", "--json")
    info = one_json(res.stdout)
    assert info["files"] == 4 and info["points"] == info["chunks"] and info["state"] == "complete"

    res = invoke("projects", "--json")
    assert [p["project"] for p in one_json(res.stdout)["projects"]] == ["shop"]

    res = invoke("search", "anything", "--project", "nope")
    assert res.exit_code == 2 and "unknown project 'nope'" in res.stderr

    res = invoke("projects", "remove", "shop")
    assert res.exit_code == 0
    assert one_json(invoke("projects", "--json").stdout)["projects"] == []


def test_batch_search_prints_one_object_per_query(home, project, tmp_path):
    assert invoke("index", str(project)).exit_code == 0
    batch = tmp_path / "q.txt"
    batch.write_text("parse_config\n\nformat money as currency\nstart the server\n")
    res = invoke("search", "--batch", str(batch), "--json")
    assert res.exit_code == 0, res.output
    rows = [json.loads(ln) for ln in res.stdout.splitlines()]
    assert len(rows) == 3 and all("results" in r and "took_ms" in r for r in rows)


def test_incremental_reindex_touches_only_changes(home, project):
    assert invoke("index", str(project)).exit_code == 0
    stats = one_json(invoke("index", str(project), "--json").stdout)
    assert stats["files_unchanged"] == 4 and stats["chunks_added"] == 0
    (project / "web/money.js").write_text(JS.replace("formatCurrency", "formatMoney"))
    (project / "server.go").unlink()
    stats = one_json(invoke("index", str(project), "--json").stdout)
    assert (stats["files_unchanged"], stats["files_deleted"], stats["files_indexed"]) == (2, 1, 1)
    res = one_json(invoke("search", "formatMoney", "--json").stdout)["results"]
    assert res[0]["symbol"] == "formatMoney"
    assert all(r["path"] != "server.go" for r in res)
    info = one_json(invoke("status", "--json").stdout)
    assert info["points"] == info["chunks"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["index", "/definitely/missing"], "path does not exist"),
        (["search", ""], "query is empty"),
        (["search", "x" * 10_000], "the limit is 2000"),
        (["search", "q", "--limit", "0"], "between 1 and 100"),
        (["search", "q", "--limit", "101"], "between 1 and 100"),
        (["search"], "give either a QUERY or --batch FILE"),
        (["search", "--batch", "/no/such/file"], "cannot read batch file"),
        (["status", "--project", "../etc"], "invalid project name"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(home, project, args, message):
    assert invoke("index", str(project)).exit_code == 0
    res = invoke(*args)
    assert res.exit_code == 2, res.output
    assert message in res.stderr
    assert "Traceback" not in res.output
    assert len(res.stderr.strip().splitlines()) == 1


def test_file_instead_of_folder(home, project):
    res = invoke("index", str(project / "server.go"))
    assert res.exit_code == 2 and "not a folder" in res.stderr


def test_bad_files_are_listed_and_indexing_continues(home, project):
    (project / "latin1.py").write_bytes(b"x = '\xe9t\xe9'\n")
    (project / "broken.py").write_text("def ok():\n    return 1\n\ndef broken(:\n  pass\n")
    (project / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    with open(project / "huge.txt", "wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    res = invoke("index", str(project), "--json")
    assert res.exit_code == 0, res.output
    stats = one_json(res.stdout)
    assert [f["path"] for f in stats["failures"]] == ["latin1.py"]
    assert "not valid UTF-8" in stats["failures"][0]["reason"]
    res = one_json(invoke("search", "ok", "--json").stdout)["results"]
    assert res[0]["path"] == "broken.py"
    info = one_json(invoke("status", "--json").stdout)
    assert info["failures"][0]["path"] == "latin1.py" and info["skipped"] == 1


def test_ignore_everything_is_reported_not_success(home, tmp_path):
    root = tmp_path / "ignored"
    root.mkdir()
    (root / ".gitignore").write_text("*\n")
    (root / "a.py").write_text("x = 1\n")
    res = invoke("index", str(root))
    assert res.exit_code == 1
    assert "nothing to index" in res.stderr


def test_invalid_setting_names_it(home, project, monkeypatch):
    monkeypatch.setenv("CODEWEAVER_SEARCH__RRF_K", "zero")
    res = invoke("index", str(project))
    assert res.exit_code == 2 and "search.rrf_k" in res.stderr


def test_unknown_project_name_collision(home, project, tmp_path):
    other = tmp_path / "other" / "shop"
    other.mkdir(parents=True)
    (other / "a.py").write_text("x = 1\n")
    assert invoke("index", str(project)).exit_code == 0
    res = invoke("index", str(other))
    assert res.exit_code == 2 and "already indexes" in res.stderr


def test_config_file_option(home, project, tmp_path, monkeypatch):
    monkeypatch.delenv("CODEWEAVER_HOME")  # the environment would win over the file
    cfg = tmp_path / "cw.toml"
    cfg.write_text(f'home = "{tmp_path / "cfg-home"}"\n')
    assert invoke("index", str(project), "--config", str(cfg)).exit_code == 0
    assert (tmp_path / "cfg-home" / "projects" / "shop" / "project.json").is_file()


def test_help_lists_commands():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("index", "search", "status", "projects"):
        assert cmd in res.stdout
    assert isinstance(Path, type)
