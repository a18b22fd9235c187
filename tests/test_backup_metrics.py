"""The ``metrics`` backup component: a live ``codeweaver serve`` scraped by a real
Prometheus every second, backed up, verified and restored through the CLI; a Prometheus
that is down (a closed port); and the export's step and series as units."""

from __future__ import annotations

import json
import math
import re
import shutil
import sys
import tarfile
import time
from pathlib import Path

import httpx
import pytest

from backup_support import archive_path, cli_env, manifest_path, run
from codeweaver.backup.create import normalize_components, public_settings
from codeweaver.backup.metrics_export import (
    EXPORT_FILE,
    KEY_SERIES,
    MAX_POINTS,
    range_step,
    rate_window,
)
from codeweaver.config import Settings
from codeweaver.errors import InputError
from codeweaver.telemetry.metrics import METRICS
from ops_helpers import free_port, process, prometheus_scraping, wait_for_value, wait_http

needs_prometheus = pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="prometheus missing: run tools/install_services.sh"
)
SEARCHES = 12
# every key series a freshly indexed and searched server has: all but the errors
EXPECTED = tuple(k.name for k in KEY_SERIES if k.name != "errors_by_component")


def _search(c: httpx.Client, base: str, n: int) -> None:
    for i in range(n):
        r = c.post(f"{base}/api/v1/search", json={"query": f"upload file {i}", "limit": 3})
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    """A live server with one indexed project, searched while Prometheus scrapes it."""
    tmp = tmp_path_factory.mktemp("observed")
    home = tmp / "home"
    root = tmp / "svc"
    root.mkdir()
    for i in range(4):
        (root / f"m{i}.py").write_text(f"def upload_{i}(path):\n    return path * {i}\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "codeweaver.cli.app", "serve", "--port", str(port)]
    log = tmp / "serve.log"
    with (
        process(args, log, {"CODEWEAVER_HOME": str(home)}, cwd=tmp) as proc,
        httpx.Client(timeout=60) as c,
    ):
        wait_http(f"{base}/health/ready", proc, log)
        r = c.post(f"{base}/api/v1/index", json={"path": str(root), "project": "svc"})
        job = r.json()["job_id"]
        while (state := c.get(f"{base}/api/v1/jobs/{job}").json()["state"]) not in (
            "succeeded",
            "failed",
        ):
            time.sleep(0.05)
        assert state == "succeeded"
        _search(c, base, 2)
        count = "sum(codeweaver_search_latency_seconds_count)"
        with prometheus_scraping(tmp, base, count, 2) as prom:
            _search(c, base, SEARCHES)  # rates need increases between scrapes
            wait_for_value(prom, count, 2 + SEARCHES)
            time.sleep(2)  # one more scrape after the last search
            yield {"base": base, "prom": prom, "home": home, "tmp": tmp}


def _backup(env: dict[str, str], dest: Path, *extra: str) -> dict:
    res = run(["backup", "create", "--json", "--dest", dest.as_uri(), *extra], env)
    assert res.returncode == 0, res.stdout + res.stderr
    out: dict = json.loads(res.stdout)
    return out


def _export_in_archive(dest: Path, backup_id: str) -> bytes:
    with tarfile.open(archive_path(dest, backup_id)) as tar:
        member = tar.extractfile(EXPORT_FILE)
        assert member is not None
        return member.read()


def _finite_values(query: dict) -> list[float]:
    return [
        float(v)
        for series in query["result"]
        for _, v in series["values"]
        if math.isfinite(float(v))
    ]


@needs_prometheus
def test_backup_exports_key_series_and_restore_copies_them(observed, tmp_path):
    env = cli_env(observed["home"], CODEWEAVER_BACKUP__PROMETHEUS_URL=observed["prom"])
    dest = tmp_path / "vault"
    before = time.time()
    made = _backup(env, dest)  # no --components: the default includes metrics when set
    assert made["components"] == ["collections", "manifests", "identity", "settings", "metrics"]
    assert made["verification"]["ok"], made
    assert not [n for n in made["notes"] if "metrics" in n.lower()], made["notes"]
    bid = made["backup_id"]
    manifest = json.loads((manifest_path(dest, bid)).read_text())
    assert manifest["components"] == made["components"]
    assert EXPORT_FILE in {f["path"] for f in manifest["files"]}

    raw = _export_in_archive(dest, bid)
    export = json.loads(raw)
    assert export["format"] == "codeweaver-metrics-export"
    assert export["prometheus_url"] == observed["prom"]
    rng = export["range"]
    assert rng["days"] == 7 and rng["step_seconds"] == 300 and rng["rate_window"] == "5m"
    assert rng["end"] - rng["start"] == pytest.approx(7 * 86400)
    assert before - 1 <= rng["end"] <= time.time()
    assert [e["name"] for e in export["expressions"]] == [k.name for k in KEY_SERIES]
    queries = {q["name"]: q for q in export["queries"]}
    for q in queries.values():
        assert q["result_type"] == "matrix" and q["step"] == 300
        assert (q["start"], q["end"]) == (rng["start"], rng["end"])
        assert "{w}" not in q["expr"]
        assert "rate(" not in q["expr"] or "[5m]" in q["expr"]
    empty = [name for name in EXPECTED if not _finite_values(queries[name])]
    assert not empty, f"no samples for {empty}"
    searches = queries["search_rate"]["result"]
    assert {s["metric"]["query_type"] for s in searches} <= {"identifier", "natural_language"}
    assert max(_finite_values(queries["search_rate"])) > 0
    assert 0 < max(_finite_values(queries["search_latency_p95"])) < 5
    assert max(_finite_values(queries["collection_size"])) > 0
    assert set(_finite_values(queries["request_error_ratio"])) == {0.0}
    assert 0 <= min(_finite_values(queries["index_age"])) < 600

    res = run(["backup", "verify", bid, "--dest", dest.as_uri(), "--json"], env)
    assert res.returncode == 0 and json.loads(res.stdout)["ok"], res.stdout + res.stderr

    # a default restore into an empty data directory: collections swapped in, the export
    # copied beside the report for review (never pushed back into Prometheus)
    key = observed["home"] / "auth" / "backup.key"  # brought along, as on a new machine
    fresh = cli_env(tmp_path / "fresh-home", CODEWEAVER_BACKUP__SIGNING_KEY_FILE=str(key))
    res = run(["backup", "restore", bid, "--dest", dest.as_uri(), "--json"], fresh)
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["ok"]
    assert set(report["components_restored"]) == {"collections", "manifests", "settings", "metrics"}
    copied = Path(report["metrics_file"])
    assert copied.parent == Path(report["report_path"]).parent
    assert copied.read_bytes() == raw
    saved = json.loads(Path(report["report_path"]).read_text())
    assert saved["metrics_file"] == str(copied)

    # only the export
    res = run(["backup", "restore", bid, "--dest", dest.as_uri(), "-c", "metrics", "--json"], fresh)
    assert res.returncode == 0, res.stdout + res.stderr
    only = json.loads(res.stdout)
    assert only["ok"] and only["components_restored"] == ["metrics"]
    assert Path(only["metrics_file"]).read_bytes() == raw


@needs_prometheus
def test_a_prometheus_without_codeweaver_series_is_a_note(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"  # a target that is never up
    with prometheus_scraping(tmp_path, dead, "count(up)", 1) as prom:
        env = cli_env(tmp_path / "home", CODEWEAVER_BACKUP__PROMETHEUS_URL=prom)
        made = _backup(env, tmp_path / "vault", "-c", "settings,metrics")
    assert made["components"] == ["settings", "metrics"]
    assert made["notes"] == [
        f"metrics: Prometheus at {prom} holds no CodeWeaver series for the last 7 days "
        "(does it scrape this server?)"
    ]
    export = json.loads(_export_in_archive(tmp_path / "vault", made["backup_id"]))
    assert len(export["queries"]) == len(KEY_SERIES)
    assert not any(q["result"] for q in export["queries"])


def test_prometheus_down_is_a_note_by_default_and_an_error_when_asked_for(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"  # closed: nothing listens there
    env = cli_env(tmp_path / "home", CODEWEAVER_BACKUP__PROMETHEUS_URL=dead)
    dest = tmp_path / "vault"

    made = _backup(env, dest)
    assert made["verification"]["ok"]
    assert "metrics" not in made["components"] and "settings" in made["components"]
    notes = [n for n in made["notes"] if "Prometheus" in n]
    assert len(notes) == 1 and f"cannot reach Prometheus at {dead}" in notes[0], made["notes"]
    manifest = json.loads((manifest_path(dest, made["backup_id"])).read_text())
    assert "metrics" not in manifest["components"]
    assert not any(f["path"].startswith("metrics/") for f in manifest["files"])
    text = run(["backup", "create", "--dest", dest.as_uri()], env)  # the note is shown
    assert text.returncode == 0 and "note: metrics export failed" in text.stdout, text.stdout

    asked = run(["backup", "create", "--dest", dest.as_uri(), "--components", "metrics"], env)
    assert asked.returncode == 1, asked.stdout + asked.stderr
    lines = asked.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot reach Prometheus at {dead}" in lines[0], asked.stderr
    assert "Traceback" not in asked.stderr
    listed = run(["backup", "list", "--dest", dest.as_uri(), "--json"], env)
    assert len(json.loads(listed.stdout)["backups"]) == 2  # the failed one left nothing

    # restoring the export of a backup without one is refused clearly
    res = run(
        ["backup", "restore", made["backup_id"], "--dest", dest.as_uri(), "-c", "metrics"], env
    )
    assert res.returncode == 1 and "holds no metrics" in res.stderr, res.stderr


def test_metrics_without_a_prometheus_is_a_usage_error(tmp_path):
    env = cli_env(tmp_path / "home")
    dest = tmp_path / "vault"
    res = run(["backup", "create", "--dest", dest.as_uri(), "-c", "settings,metrics"], env)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "backup.prometheus_url" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not dest.exists() or not any(dest.iterdir())
    made = _backup(env, dest)  # unset: the default has no metrics, and no note about it
    assert "metrics" not in made["components"]
    assert not [n for n in made["notes"] if "metrics" in n.lower()]


# --- units -----------------------------------------------------------------------------


def _points(window: float, step: int) -> int:
    return math.floor(window / step) + 1


@pytest.mark.parametrize(
    ("days", "step", "expected"),
    [
        (7, 300, 300),  # 2,017 points: the configured step stands
        (7, 15, 55),  # 40,321 points at 15 s: raised to 55 s (10,997 points)
        (30, 60, 236),
        (366, 300, 2876),
        (1 / 24, 1, 1),
    ],
)
def test_the_step_keeps_every_series_under_the_point_limit(days, step, expected):
    window = days * 86400
    got = range_step(window, step)
    assert got == expected
    assert _points(window, got) <= MAX_POINTS
    assert got == step or _points(window, got - 1) > MAX_POINTS - 1  # the smallest that fits


def test_step_edge_cases_and_rate_windows():
    assert range_step(3600, 0.5) == 1  # whole seconds, at least one
    assert _points(10_999, range_step(10_999, 1)) == 11_000
    assert range_step(11_000, 1) == 2
    with pytest.raises(InputError):
        range_step(0, 300)
    with pytest.raises(InputError):
        range_step(3600, 0)
    assert rate_window(60) == "5m" and rate_window(300) == "5m"
    assert rate_window(600) == "10m" and rate_window(2876) == "2876s"


def test_metrics_joins_the_default_only_with_a_prometheus():
    assert "metrics" not in normalize_components(None)
    assert normalize_components(None, with_metrics=True)[-1] == "metrics"
    assert normalize_components(["metrics"]) == ["metrics"]
    assert normalize_components(["metrics", "manifests"]) == ["collections", "manifests", "metrics"]
    s = Settings(backup={"prometheus_url": "http://prom:9090", "prometheus_token": "tok-secret"})
    data = public_settings(s)
    assert "tok-secret" not in json.dumps(data)
    assert data["backup"]["prometheus_url"] == "http://prom:9090"


def _known_series() -> set[str]:
    names = set()
    for spec in METRICS:
        names.add(spec.name)
        if spec.kind == "histogram":
            names.update(f"{spec.name}_{s}" for s in ("bucket", "sum", "count"))
    return names


def test_key_series_use_only_series_codeweaver_exposes():
    assert len({k.name for k in KEY_SERIES}) == len(KEY_SERIES)
    known = _known_series()
    for key in KEY_SERIES:
        expr = key.expr.format(w="5m")
        used = set(re.findall(r"\bcodeweaver_\w+", expr))
        assert used and used <= known, (key.name, used - known)
        assert expr.count("(") == expr.count(")"), key.name
