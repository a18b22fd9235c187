"""deploy/compose: every service healthy-checked with a named volume, mounts that exist,
settings that are real, and Prometheus' config accepted by promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from codeweaver.config import setting_names

COMPOSE = Path(__file__).resolve().parents[1] / "deploy" / "compose"
SPEC = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
SERVICES = SPEC["services"]


def _volumes(service: dict) -> list[tuple[str, str]]:
    return [tuple(v.split(":")[:2]) for v in service.get("volumes", [])]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck_and_a_named_volume(name):
    service = SERVICES[name]
    test = service["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1
    named = [src for src, _ in _volumes(service) if not src.startswith((".", "/"))]
    assert named, f"{name} keeps its data in no named volume"
    assert set(named) <= set(SPEC["volumes"]), set(named) - set(SPEC["volumes"])


def test_every_mounted_file_is_in_the_repository():
    for name, service in SERVICES.items():
        for src, _ in _volumes(service):
            if src.startswith("."):
                assert (COMPOSE / src).exists(), f"{name} mounts missing {src}"
    build = SERVICES["codeweaver"]["build"]
    assert (COMPOSE / build["context"] / build["dockerfile"]).is_file()


def test_codeweaver_environment_names_real_settings():
    env = SERVICES["codeweaver"]["environment"]
    unknown = set(env) - set(setting_names())
    assert not unknown, f"not settings of config.py: {sorted(unknown)}"
    assert env["CODEWEAVER_REDIS__URL"].startswith("redis://redis:")
    assert "@postgres:" in env["CODEWEAVER_DATABASE__URL"]
    assert SERVICES["codeweaver"]["read_only"] is True
    assert SERVICES["codeweaver"]["cap_drop"] == ["ALL"]


def test_no_literal_secrets_only_required_variables():
    values = [
        (key, str(value))
        for service in SERVICES.values()
        for key, value in (service.get("environment") or {}).items()
        if "PASSWORD" in key or key.endswith("__URL")
    ]
    assert len(values) >= 4
    for key, value in values:
        if "PASSWORD" in key:
            assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value), (key, value)
        else:  # a URL carries a password only as a required variable
            assert "@" not in value or "${POSTGRES_PASSWORD:?" in value, (key, value)


def test_redis_is_a_bounded_lru_cache():
    command = SERVICES["redis"]["command"]
    assert command[command.index("--maxmemory-policy") + 1] == "allkeys-lru"
    assert re.fullmatch(r"\d+[kmg]b", command[command.index("--maxmemory") + 1])


def test_qdrant_is_an_optional_profile_and_the_server_can_reach_it():
    assert SERVICES["qdrant"]["profiles"] == ["qdrant"]
    assert SERVICES["codeweaver"]["environment"]["CODEWEAVER_QDRANT__URL"] == "http://qdrant:6333"
    assert all("profiles" not in s for n, s in SERVICES.items() if n != "qdrant")


def test_prometheus_scrapes_the_metrics_listener_with_the_shipped_rules():
    config = yaml.safe_load((COMPOSE / "prometheus" / "prometheus.yml").read_text())
    port = SERVICES["codeweaver"]["environment"]["CODEWEAVER_OBSERVABILITY__METRICS_PORT"]
    targets = config["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"codeweaver:{port}"]
    mounts = dict(_volumes(SERVICES["prometheus"]))
    assert mounts["../prometheus/alerts.yml"] == "/etc/prometheus/alerts.yml"
    assert config["rule_files"] == ["alerts.yml"]


def test_promtool_accepts_the_compose_prometheus_config(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: run `make services`")
    shutil.copy(COMPOSE / "prometheus" / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copy(COMPOSE.parent / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisions_the_shipped_dashboard():
    mounts = dict(_volumes(SERVICES["grafana"]))
    target = mounts["../grafana/codeweaver-dashboard.json"]
    providers = yaml.safe_load((COMPOSE / "grafana" / "dashboards" / "codeweaver.yml").read_text())
    assert Path(target).parent == Path(providers["providers"][0]["options"]["path"])
    sources = yaml.safe_load((COMPOSE / "grafana" / "datasources" / "prometheus.yml").read_text())
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"
