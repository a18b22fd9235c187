"""The Kubernetes API as the operator tools read it, through the official ``kubernetes`` client.

Credentials come from a kubeconfig file (``--kubeconfig``, else ``$KUBECONFIG`` or
``~/.kube/config``) or, inside a pod, from its service account. Objects are answered in
their JSON form (camelCase keys, as ``kubectl get -o json`` prints them), and every error
of the client is translated here: 403 is :class:`PermissionDeniedError`, 404
:class:`NotFoundError`, an API server that cannot be reached :class:`UnavailableError`.
The client is imported when a connection is made, never at import time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from codeweaver.errors import (
    CodeWeaverError,
    ConfigError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
)

__all__ = ["KubernetesApi", "connect"]

T = TypeVar("T")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_CHUNK = 1 << 16
METRICS_GROUP = "metrics.k8s.io"
METRICS_VERSION = "v1beta1"


def _message(exc: Any) -> str:
    """The ``message`` of the Status object a Kubernetes API error carries, else its reason."""
    import json

    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return str(body["message"])
    return f"HTTP {exc.status} {exc.reason}"


@dataclass(slots=True)
class KubernetesApi:
    """One namespace of one cluster, read through a configured ``ApiClient``."""

    client: Any  # kubernetes.client.ApiClient
    namespace: str
    server: str
    timeout: float = 10.0

    # ------------------------------------------------------------------ plumbing
    def _call(self, what: str, fn: Callable[[], T]) -> T:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn()
        except ApiException as exc:
            if exc.status == 0 or exc.status is None:
                raise UnavailableError(f"Kubernetes API {self.server}: {exc.reason}") from None
            detail = _message(exc)
            if exc.status == 403:
                raise PermissionDeniedError(f"{what}: forbidden: {detail}") from None
            if exc.status == 404:
                raise NotFoundError(f"{what}: not found: {detail}") from None
            if exc.status == 401:
                raise PermissionDeniedError(f"{what}: unauthorized: {detail}") from None
            raise UnavailableError(f"{what}: HTTP {exc.status}: {detail}") from None
        except HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise UnavailableError(
                f"cannot reach the Kubernetes API at {self.server}: {reason}"
            ) from None
        except OSError as exc:
            raise UnavailableError(
                f"cannot reach the Kubernetes API at {self.server}: {exc}"
            ) from None

    def _json(self, obj: Any) -> Any:
        return self.client.sanitize_for_serialization(obj)

    def _core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.client)

    # ------------------------------------------------------------------- reading
    def read_namespace(self) -> dict[str, Any]:
        core = self._core()
        return dict(
            self._json(
                self._call(
                    f"namespace {self.namespace}",
                    lambda: core.read_namespace(self.namespace, _request_timeout=self.timeout),
                )
            )
        )

    def _list(self, kind: str, method: str, selector: str) -> list[dict[str, Any]]:
        fn = getattr(self._core(), method)
        found = self._call(
            f"{kind} in namespace {self.namespace}",
            lambda: fn(self.namespace, label_selector=selector, _request_timeout=self.timeout),
        )
        return list(self._json(found).get("items") or [])

    def pods(self, selector: str) -> list[dict[str, Any]]:
        return self._list("pods", "list_namespaced_pod", selector)

    def services(self, selector: str) -> list[dict[str, Any]]:
        return self._list("services", "list_namespaced_service", selector)

    def endpoints(self, selector: str) -> list[dict[str, Any]]:
        return self._list("endpoints", "list_namespaced_endpoints", selector)

    def pod_memory(self, selector: str) -> dict[str, int] | None:
        """Working-set bytes of each pod from ``metrics.k8s.io``; None when that API is absent."""
        from kubernetes import client
        from kubernetes.utils import parse_quantity

        custom = client.CustomObjectsApi(self.client)
        try:
            found = self._call(
                f"pod metrics in namespace {self.namespace}",
                lambda: custom.list_namespaced_custom_object(
                    METRICS_GROUP,
                    METRICS_VERSION,
                    self.namespace,
                    "pods",
                    label_selector=selector,
                    _request_timeout=self.timeout,
                ),
            )
        except NotFoundError:
            return None
        usage: dict[str, int] = {}
        for item in found.get("items") or []:
            name = str((item.get("metadata") or {}).get("name", "?"))
            total = 0
            for container in item.get("containers") or []:
                memory = (container.get("usage") or {}).get("memory")
                if memory is not None:
                    try:
                        total += int(parse_quantity(memory))
                    except ValueError as exc:
                        raise UnavailableError(
                            f"pod metrics of {name}: bad memory quantity {memory!r}"
                        ) from exc
            usage[name] = total
        return usage

    def write_log(self, pod: str, container: str, since_seconds: int, out: BinaryIO) -> int:
        """Stream one container's log of the last ``since_seconds`` into ``out``; bytes written."""
        core = self._core()
        resp = self._call(
            f"log of {pod}/{container}",
            lambda: core.read_namespaced_pod_log(
                pod,
                self.namespace,
                container=container,
                since_seconds=since_seconds,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
        )
        from urllib3.exceptions import HTTPError

        written = 0
        try:
            for chunk in resp.stream(_CHUNK):
                out.write(chunk)
                written += len(chunk)
        except HTTPError as exc:
            raise UnavailableError(f"log of {pod}/{container}: cut off: {exc}") from None
        finally:
            resp.release_conn()
        return written

    def close(self) -> None:
        self.client.close()


def connect(namespace: str, kubeconfig: Path | None = None, timeout: float = 10.0) -> KubernetesApi:
    """A client of ``namespace``: the kubeconfig given, else the pod's service account when
    running in a cluster, else ``$KUBECONFIG`` / ``~/.kube/config``."""
    if not _NAMESPACE.match(namespace):
        raise InputError(
            f"invalid namespace {namespace!r}: lowercase letters, digits and '-', at most 63"
        )
    import yaml
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)
        else:
            if kubeconfig is not None and not kubeconfig.is_file():
                raise ConfigError(f"kubeconfig {kubeconfig} is not a readable file")
            config.load_kube_config(
                config_file=str(kubeconfig) if kubeconfig else None,
                client_configuration=configuration,
                persist_config=False,
            )
    except CodeWeaverError:
        raise
    except (
        config.ConfigException,
        yaml.YAMLError,
        OSError,
        ValueError,
        TypeError,
        KeyError,
    ) as exc:
        where = f"kubeconfig {kubeconfig}" if kubeconfig else "the Kubernetes configuration"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot load {where}: {first}") from None
    configuration.retries = 0  # one attempt: an unreachable API server is reported at once
    return KubernetesApi(client.ApiClient(configuration), namespace, configuration.host, timeout)
