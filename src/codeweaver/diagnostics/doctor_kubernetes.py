"""``doctor --kubernetes``: the operations guide's cluster checks through the Kubernetes API.

Namespace, pods running and ready, services with endpoints, restarts and OOM kills, pod
memory against the limit (``metrics.k8s.io`` when the cluster serves it), and the images
in use — each a PASS / WARN / FAIL / SKIP line like the other doctor checks. CodeWeaver's
pods and services are the ones labelled as the shipped manifests label them
(:data:`SELECTOR`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

from codeweaver.config import OperationsSettings
from codeweaver.diagnostics.checks import Check, Status, run_check
from codeweaver.errors import NotFoundError, PermissionDeniedError

__all__ = ["SELECTOR", "ClusterReader", "container_statuses", "kubernetes_checks"]

SELECTOR = "app.kubernetes.io/name=codeweaver"
_PULL_ERRORS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}


class ClusterReader(Protocol):
    namespace: str

    def read_namespace(self) -> dict[str, Any]: ...
    def pods(self, selector: str) -> list[dict[str, Any]]: ...
    def services(self, selector: str) -> list[dict[str, Any]]: ...
    def endpoints(self, selector: str) -> list[dict[str, Any]]: ...
    def pod_memory(self, selector: str) -> dict[str, int] | None: ...


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", "?"))


def container_statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list((pod.get("status") or {}).get("containerStatuses") or [])


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _why_not_ready(pod: dict[str, Any]) -> str:
    """What keeps a pod from serving: a waiting or terminated container's reason, else its phase."""
    for cs in container_statuses(pod):
        state = cs.get("state") or {}
        for kind in ("waiting", "terminated"):
            if state.get(kind):
                reason = state[kind].get("reason") or kind
                return f"{cs.get('name', '?')} {reason}"
        if not cs.get("ready"):
            return f"{cs.get('name', '?')} not ready"
    phase = (pod.get("status") or {}).get("phase") or "Unknown"
    return str(phase) if phase != "Running" else "not ready"


def _ready_addresses(endpoints: dict[str, Any]) -> tuple[int, int]:
    ready = waiting = 0
    for subset in endpoints.get("subsets") or []:
        ready += len(subset.get("addresses") or [])
        waiting += len(subset.get("notReadyAddresses") or [])
    return ready, waiting


class _Cluster:
    def __init__(self, api: ClusterReader, limits: OperationsSettings) -> None:
        self.api = api
        self.limits = limits
        self._pods: list[dict[str, Any]] | None = None

    def pods(self) -> list[dict[str, Any]]:
        if self._pods is None:
            self._pods = self.api.pods(SELECTOR)
        return self._pods

    def running(self) -> tuple[Status, str]:
        pods = self.pods()
        if not pods:
            return "FAIL", f"no pods labelled {SELECTOR} in namespace {self.api.namespace}"
        bad = [
            f"{_name(p)}: {_why_not_ready(p)}"
            for p in pods
            if (p.get("status") or {}).get("phase") != "Running" or not _ready(p)
        ]
        good = len(pods) - len(bad)
        detail = f"{good}/{len(pods)} running and ready"
        return ("FAIL" if bad else "PASS"), detail + (f" ({'; '.join(bad)})" if bad else "")

    def services(self) -> tuple[Status, str]:
        services = self.api.services(SELECTOR)
        if not services:
            return "FAIL", f"no services labelled {SELECTOR} in namespace {self.api.namespace}"
        endpoints = {_name(e): e for e in self.api.endpoints(SELECTOR)}
        parts: list[str] = []
        status: Status = "PASS"
        for svc in services:
            name = _name(svc)
            if name not in endpoints:
                status = "FAIL"
                parts.append(f"{name}: no endpoints")
                continue
            ready, waiting = _ready_addresses(endpoints[name])
            if ready == 0:
                status = "FAIL"
            parts.append(f"{name}: {ready} ready" + (f", {waiting} not ready" if waiting else ""))
        return status, "; ".join(parts)

    def restarts(self) -> tuple[Status, str]:
        pods = self.pods()
        if not pods:
            return "SKIP", "no pods"
        oom: list[str] = []
        restarted: list[str] = []
        for pod in pods:
            for cs in container_statuses(pod):
                where = f"{_name(pod)}/{cs.get('name', '?')}"
                count = int(cs.get("restartCount") or 0)
                reasons = {
                    ((cs.get(key) or {}).get("terminated") or {}).get("reason")
                    for key in ("state", "lastState")
                }
                if "OOMKilled" in reasons:
                    oom.append(f"{where} OOMKilled ({count} restarts)")
                elif count:
                    restarted.append(f"{where} {count} restarts")
        if oom:
            return "FAIL", "; ".join(oom + restarted)
        if restarted:
            return "WARN", "; ".join(restarted)
        return "PASS", "no restarts, no OOM kills"

    def memory(self) -> tuple[Status, str]:
        usage = self.api.pod_memory(SELECTOR)
        if usage is None:
            return "WARN", "metrics API not available (metrics.k8s.io); install metrics-server"
        if not usage:
            return "WARN", "metrics API answered no CodeWeaver pods"
        limit = self.limits.memory_mib
        over = [n for n, b in usage.items() if b / 1024**2 >= limit]
        text = ", ".join(f"{n} {b / 1024**2:.0f} MiB" for n, b in sorted(usage.items()))
        return ("FAIL" if over else "PASS"), f"{text} (limit {limit} MiB)"

    def images(self) -> tuple[Status, str]:
        pods = self.pods()
        if not pods:
            return "SKIP", "no pods"
        images: Counter[str] = Counter()
        pulls: list[str] = []
        for pod in pods:
            for c in (pod.get("spec") or {}).get("containers") or []:
                images[str(c.get("image", "?"))] += 1
            for cs in container_statuses(pod):
                reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
                if reason in _PULL_ERRORS:
                    pulls.append(f"{_name(pod)}/{cs.get('name', '?')} {reason} ({cs.get('image')})")
        text = ", ".join(f"{i} ({n} pods)" if n > 1 else i for i, n in sorted(images.items()))
        if pulls:
            return "FAIL", "; ".join(pulls)
        floating = sorted(i for i in images if _floating(i))
        if floating:
            return "WARN", f"{text}; pin a version or digest instead of {', '.join(floating)}"
        if len(images) > 1:
            return "WARN", f"{text}; more than one image in use (a rollout in progress?)"
        return "PASS", text


def _floating(image: str) -> bool:
    """An image reference that may change under the same name: ``:latest`` or no tag at all."""
    if "@" in image:
        return False
    tail = image.rsplit("/", 1)[-1]
    return ":" not in tail or tail.endswith(":latest")


def kubernetes_checks(api: ClusterReader, limits: OperationsSettings) -> list[Check]:
    """The cluster checks of ``api``'s namespace. An API server that cannot be reached
    raises (one error, not a page of FAIL lines)."""
    namespace = api.namespace
    try:
        phase = (api.read_namespace().get("status") or {}).get("phase") or "?"
        status: Status = "PASS" if phase == "Active" else "WARN"
        first = Check("k8s namespace", status, f"{namespace} ({phase})")
    except NotFoundError:
        first = Check("k8s namespace", "FAIL", f"namespace {namespace} not found")
        rest = ("pods", "services", "restarts", "memory", "images")
        return [first, *(Check(f"k8s {n}", "SKIP", "no namespace") for n in rest)]
    except PermissionDeniedError as exc:
        first = Check("k8s namespace", "WARN", f"cannot read namespace {namespace}: {exc}")
    cluster = _Cluster(api, limits)
    return [
        first,
        run_check("k8s pods", cluster.running),
        run_check("k8s services", cluster.services),
        run_check("k8s restarts", cluster.restarts),
        run_check("k8s memory", cluster.memory),
        run_check("k8s images", cluster.images),
    ]
