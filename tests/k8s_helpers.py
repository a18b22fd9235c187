"""Cluster objects built from the official client's models, the loopback API stand-in
(``k8s_standin.py``) as a process, and a kubeconfig pointing at it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from net_helpers import free_port, wait_http
from ops_helpers import process

HERE = Path(__file__).resolve().parent
STANDIN = HERE / "k8s_standin.py"
NS = "codeweaver"
LABELS = {"app.kubernetes.io/name": "codeweaver", "app.kubernetes.io/part-of": "codeweaver"}
IMAGE = "codeweaver:0.1.0"
TOKEN = "standin-token"
_API = client.ApiClient()


def ser(obj: Any) -> Any:
    return _API.sanitize_for_serialization(obj)


def namespace(name: str = NS) -> dict[str, Any]:
    return ser(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(name=name),
            status=client.V1NamespaceStatus(phase="Active"),
        )
    )


def pod(
    name: str,
    *,
    ready: bool = True,
    waiting: str | None = None,
    restarts: int = 0,
    last_terminated: str | None = None,
    image: str = IMAGE,
    labels: dict[str, str] | None = None,
    ns: str = NS,
    container: str = "codeweaver",
) -> dict[str, Any]:
    now = datetime.now(UTC)
    state = (
        client.V1ContainerState(waiting=client.V1ContainerStateWaiting(reason=waiting))
        if waiting
        else client.V1ContainerState(running=client.V1ContainerStateRunning(started_at=now))
    )
    last = (
        client.V1ContainerState(
            terminated=client.V1ContainerStateTerminated(
                exit_code=137, reason=last_terminated, finished_at=now - timedelta(minutes=1)
            )
        )
        if last_terminated
        else client.V1ContainerState()
    )
    return ser(
        client.V1Pod(
            api_version="v1",
            kind="Pod",
            metadata=client.V1ObjectMeta(name=name, namespace=ns, labels=labels or LABELS),
            spec=client.V1PodSpec(
                containers=[
                    client.V1Container(
                        name=container,
                        image=image,
                        resources=client.V1ResourceRequirements(limits={"memory": "4000Mi"}),
                    )
                ]
            ),
            status=client.V1PodStatus(
                phase="Running",
                conditions=[
                    client.V1PodCondition(type="Ready", status="True" if ready else "False")
                ],
                container_statuses=[
                    client.V1ContainerStatus(
                        name=container,
                        image=image,
                        image_id=f"docker.io/library/{image}@sha256:{'a' * 64}",
                        ready=ready,
                        restart_count=restarts,
                        state=state,
                        last_state=last,
                    )
                ],
            ),
        )
    )


def service(name: str = "codeweaver", ns: str = NS) -> dict[str, Any]:
    return ser(
        client.V1Service(
            metadata=client.V1ObjectMeta(name=name, namespace=ns, labels=LABELS),
            spec=client.V1ServiceSpec(
                selector={"app.kubernetes.io/name": "codeweaver"},
                ports=[client.V1ServicePort(name="http", port=8080, target_port="http")],
            ),
        )
    )


def endpoints(name: str = "codeweaver", ready: int = 2, not_ready: int = 0) -> dict[str, Any]:
    def addr(i: int) -> client.V1EndpointAddress:
        return client.V1EndpointAddress(ip=f"10.0.0.{i + 1}")

    return ser(
        client.V1Endpoints(
            metadata=client.V1ObjectMeta(name=name, namespace=NS, labels=LABELS),
            subsets=[
                client.V1EndpointSubset(
                    addresses=[addr(i) for i in range(ready)] or None,
                    not_ready_addresses=[addr(ready + i) for i in range(not_ready)] or None,
                    ports=[client.CoreV1EndpointPort(name="http", port=8080)],
                )
            ],
        )
    )


def pod_metrics(name: str, memory: str) -> dict[str, Any]:
    """A ``metrics.k8s.io/v1beta1`` PodMetrics (the official client has no model for it)."""
    return {
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {"name": name, "namespace": NS, "labels": LABELS},
        "timestamp": datetime.now(UTC).isoformat(),
        "window": "30s",
        "containers": [{"name": "codeweaver", "usage": {"cpu": "250m", "memory": memory}}],
    }


def healthy() -> dict[str, Any]:
    pods = [pod("codeweaver-0"), pod("codeweaver-1")]
    return {
        "namespaces": {NS: namespace()},
        "pods": pods,
        "services": [service()],
        "endpoints": [endpoints()],
        "metrics": [pod_metrics("codeweaver-0", "1536Mi"), pod_metrics("codeweaver-1", "2Gi")],
    }


def kubeconfig(folder: Path, server: str, token: str = TOKEN) -> Path:
    path = folder / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "standin", "cluster": {"server": server}}],
                "users": [{"name": "operator", "user": {"token": token}}],
                "contexts": [
                    {"name": "standin", "context": {"cluster": "standin", "user": "operator"}}
                ],
                "current-context": "standin",
            }
        )
    )
    return path


@dataclass
class Standin:
    url: str

    def put(self, scenario: dict[str, Any]) -> None:
        httpx.put(f"{self.url}/_scenario", json=scenario).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/_requests").json())


@contextmanager
def standin(tmp: Path) -> Iterator[Standin]:
    port = free_port()
    log = tmp / "standin.log"
    with process([sys.executable, str(STANDIN), str(port), TOKEN], log) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/_requests", proc, log)
        yield Standin(url)
