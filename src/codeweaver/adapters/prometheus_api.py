"""A client for Prometheus's HTTP API (instant and range queries), missing data kept as
missing."""

from __future__ import annotations

import math
import urllib.parse
from pathlib import Path
from typing import Any

from codeweaver.adapters import http_get
from codeweaver.errors import CodeWeaverError, InputError, UnavailableError

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
        self.base_url = http_get.validate_url(base_url)
        self._token = token
        self._ca_file = ca_file
        self._timeout = timeout

    def _api(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """The ``data`` of a successful API answer; a clear one-line error otherwise."""
        url = f"{self.base_url}{path}?" + urllib.parse.urlencode(params)
        try:
            resp = http_get.get(
                url, token=self._token, ca_file=self._ca_file, timeout=self._timeout
            )
        except InputError:  # a bad CA file
            raise
        except CodeWeaverError as exc:  # name the server, not the (long) query URL
            reason = getattr(exc.__cause__, "reason", exc.__cause__) or exc
            raise UnavailableError(f"cannot reach Prometheus at {self.base_url}: {reason}") from exc
        data = resp.json() if resp.body.startswith(b"{") else {}
        if resp.status != 200 or data.get("status") != "success":
            reason = data.get("error") or resp.text[:200] or f"HTTP {resp.status}"
            failed = UnavailableError if resp.status >= 500 else CodeWeaverError
            raise failed(f"Prometheus query failed ({resp.status}): {reason}")
        result: dict[str, Any] = data["data"]
        return result

    def query(self, promql: str) -> Vector:
        """An instant query; a vector result as {sorted labels: value}, NaN/Inf dropped."""
        result = self._api("/api/v1/query", {"query": promql})
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

    def query_range(
        self, promql: str, start: float, end: float, step: float
    ) -> list[dict[str, Any]]:
        """A range query from ``start`` to ``end`` (Unix seconds) every ``step`` seconds:
        the matrix as Prometheus returns it, ``[{"metric": {…}, "values": [[t, "v"], …]}]``.

        Prometheus refuses more than 11,000 points per series (``(end - start) / step``)."""
        params = {
            "query": promql,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{step:g}",
        }
        result = self._api("/api/v1/query_range", params)
        if result.get("resultType") != "matrix":
            raise CodeWeaverError(
                f"Prometheus range query gave a {result.get('resultType')!r}, not a matrix"
            )
        matrix: list[dict[str, Any]] = result.get("result", [])
        return matrix

    def scalar(self, promql: str) -> float | None:
        values = list(self.query(promql).values())
        return sum(values) if values else None

    def by(self, promql: str, key: str) -> dict[str, float]:
        return {dict(labels).get(key, ""): v for labels, v in self.query(promql).items()}

    def ready(self) -> bool:
        try:
            return http_get.get(f"{self.base_url}/-/ready", timeout=self._timeout).status == 200
        except CodeWeaverError:
            return False
