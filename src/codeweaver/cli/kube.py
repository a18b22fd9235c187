"""The Kubernetes side of ``doctor --kubernetes`` and ``logs analyze --kubernetes``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeweaver.errors import NotFoundError

if TYPE_CHECKING:
    from codeweaver.config import OperationsSettings
    from codeweaver.diagnostics.checks import Check
    from codeweaver.diagnostics.logscan import LogStats

__all__ = ["DEFAULT_NAMESPACE", "collect_and_analyze", "default_output", "doctor_checks"]

DEFAULT_NAMESPACE = "codeweaver"


def doctor_checks(
    namespace: str, kubeconfig: Path | None, timeout: float, limits: OperationsSettings
) -> list[Check]:
    from codeweaver.adapters.kubernetes_api import connect
    from codeweaver.diagnostics.doctor_kubernetes import kubernetes_checks

    api = connect(namespace, kubeconfig, timeout)
    try:
        return kubernetes_checks(api, limits)
    finally:
        api.close()


def default_output(now: datetime) -> Path:
    return Path(f"codeweaver-logs-{now:%Y%m%dT%H%M%SZ}")


def collect_and_analyze(
    namespace: str,
    kubeconfig: Path | None,
    since: datetime,
    output: Path | None,
    timeout: float,
    limits: OperationsSettings,
) -> tuple[LogStats, dict[str, Any]]:
    """Collect the pods' logs since ``since`` into ``output`` and analyze them together."""
    from codeweaver.adapters.kubernetes_api import connect
    from codeweaver.diagnostics.kube_logs import collect, read_lines
    from codeweaver.diagnostics.logscan import analyze

    now = datetime.now(UTC)
    seconds = max(1, int((now - since).total_seconds()))
    folder = output if output is not None else default_output(now)
    api = connect(namespace, kubeconfig, timeout)
    try:
        collected = collect(api, seconds, folder)
    finally:
        api.close()
    if not collected:
        raise NotFoundError(f"no CodeWeaver pods in namespace {namespace} to collect logs from")
    stats = analyze(read_lines(folder, collected), limits, since)
    where = {
        "namespace": namespace,
        "output": str(folder),
        "collected": [c.as_dict() for c in collected],
    }
    return stats, where
