"""deploy/kubernetes: both overlays render with `kubectl kustomize`, validate against the
Kubernetes OpenAPI schemas, and agree with the settings and routes the server really has."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from codeweaver.api import create_app
from codeweaver.config import Settings, setting_names

KUBE = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes"
OVERLAYS = ("single-node", "scale-out")
K8S_VERSION = "1.33.0"


def _render(path: Path) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is missing: run `make services`")
    out = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request) -> list[dict]:
    return _render(KUBE / "overlays" / request.param)


def _one(docs: list[dict], kind: str, name: str = "codeweaver") -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return found[0]


def _workload(docs: list[dict]) -> dict:
    found = [
        d
        for d in docs
        if d["kind"] in ("StatefulSet", "Deployment") and d["metadata"]["name"] == "codeweaver"
    ]
    assert len(found) == 1
    return found[0]


def _container(docs: list[dict]) -> dict:
    return _workload(docs)["spec"]["template"]["spec"]["containers"][0]


def test_every_manifest_validates_against_the_openapi_schemas(rendered, tmp_path):
    import kubernetes_validate

    for doc in rendered:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_rejects_a_broken_manifest():
    import kubernetes_validate

    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}
    bad["spec"] = {"replicas": "three", "selector": {}, "template": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_configmap_names_only_real_settings(rendered):
    data = _one(rendered, "ConfigMap", "codeweaver-settings")["data"]
    env = [e["name"] for e in _container(rendered).get("env", [])]
    unknown = (set(data) | set(env)) - set(setting_names())
    assert not unknown, f"not settings of config.py: {sorted(unknown)}"
    Settings(**{})  # the defaults still load
    assert data["CODEWEAVER_HOME"] in {m["mountPath"] for m in _container(rendered)["volumeMounts"]}


def test_probes_and_ports_match_the_server(rendered):
    container = _container(rendered)
    routes = {getattr(r, "path", "") for r in create_app(Settings()).routes}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    args = container["args"]
    assert ports["http"] == int(args[args.index("--port") + 1])
    data = _one(rendered, "ConfigMap", "codeweaver-settings")["data"]
    assert ports["metrics"] == int(data["CODEWEAVER_OBSERVABILITY__METRICS_PORT"])
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in routes, (probe, get["path"])
        assert get["port"] in ports
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    service = _one(rendered, "Service")
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= set(ports)


def test_hardened_pod_and_writable_volumes_only_where_needed(rendered):
    pod = _workload(rendered)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    ctx = _container(rendered)["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False and ctx["readOnlyRootFilesystem"] is True
    assert ctx["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m for m in _container(rendered)["volumeMounts"]}
    writable = {p for p, m in mounts.items() if not m.get("readOnly")}
    assert writable == {"/data", "/tmp/codeweaver"}  # CODEWEAVER_HOME and TMPDIR of the image
    limits = _container(rendered)["resources"]["limits"]
    assert limits["memory"] == "4000Mi" and "cpu" in limits


def test_secrets_are_references_never_literals(rendered):
    assert not [d for d in rendered if d["kind"] == "Secret"]
    data = _one(rendered, "ConfigMap", "codeweaver-settings")["data"]
    assert not any("PASSWORD" in k or k.endswith("__SECRET") for k in data)
    assert not any("@" in str(v) for v in data.values())


def test_ingress_has_tls_from_cert_manager(rendered):
    ingress = _one(rendered, "Ingress")
    assert "cert-manager.io/cluster-issuer" in ingress["metadata"]["annotations"]
    assert ingress["spec"]["tls"][0]["secretName"]


def test_overlay_shapes():
    single = _render(KUBE / "overlays" / "single-node")
    assert _workload(single)["kind"] == "StatefulSet" and _workload(single)["spec"]["replicas"] == 1
    assert _workload(single)["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    scale = _render(KUBE / "overlays" / "scale-out")
    assert _workload(scale)["kind"] == "Deployment" and _workload(scale)["spec"]["replicas"] > 1
    data = _one(scale, "ConfigMap", "codeweaver-settings")["data"]
    assert data["CODEWEAVER_QDRANT__MODE"] == "server"
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget"):
        _one(scale, kind)
    _one(scale, "StatefulSet", "qdrant")
    _one(scale, "Service", "qdrant")


def test_servicemonitor_component_renders(tmp_path):
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{os.path.relpath(KUBE / 'overlays' / 'single-node', tmp_path)}]\n"
        f"components: [{os.path.relpath(KUBE / 'components' / 'servicemonitor', tmp_path)}]\n"
    )
    monitor = _one(_render(tmp_path), "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
