"""A client for Prometheus's HTTP API (instant queries), missing data kept as missing."""

from __future__ import annotations

import math
import urllib.parse
from pathlib import Path

from codeweaver.errors import CodeWeaverError
from codeweaver.ops import http

__all__ = ["PrometheusClient"]

Vector = dict[tuple[tuple[str, str], ...], float]


class PrometheusClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        ca_file: Path | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = http.validate_url(base_url)
        self._token = token
        self._ca_file = ca_file
        self._timeout = timeout

    def query(self, promql: str) -> Vector:
        """An instant query; a vector result as {sorted labels: value}, NaN/Inf dropped."""
        url = f"{self.base_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        resp = http.get(url, token=self._token, ca_file=self._ca_file, timeout=self._timeout)
        data = resp.json() if resp.body.startswith(b"{") else {}
        if resp.status != 200 or data.get("status") != "success":
            reason = data.get("error") or resp.text[:200] or f"HTTP {resp.status}"
            raise CodeWeaverError(f"Prometheus query failed ({resp.status}): {reason}")
        result = data["data"]
        if result.get("resultType") == "scalar":
            items = [{"metric": {}, "value": result["result"]}]
        else:
            items = result.get("result", [])
        out: Vector = {}
        for item in items:
            value = float(item["value"][1])
            if math.isfinite(value):
                out[tuple(sorted(item.get("metric", {}).items()))] = value
        return out

    def scalar(self, promql: str) -> float | None:
        values = list(self.query(promql).values())
        return sum(values) if values else None

    def by(self, promql: str, key: str) -> dict[str, float]:
        return {dict(labels).get(key, ""): v for labels, v in self.query(promql).items()}

    def ready(self) -> bool:
        try:
            return http.get(f"{self.base_url}/-/ready", timeout=self._timeout).status == 200
        except CodeWeaverError:
            return False
