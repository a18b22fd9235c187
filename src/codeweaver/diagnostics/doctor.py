"""``doctor`` against a running server: health, auth, store, latency, errors, cache, memory,
TLS, disk and index freshness — each a PASS / WARN / FAIL / SKIP line."""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeweaver.adapters import http_get
from codeweaver.adapters.prometheus_api import PrometheusClient
from codeweaver.adapters.tls_probe import fetch_certificate
from codeweaver.config import OperationsSettings
from codeweaver.diagnostics.checks import Check, Status, run_check
from codeweaver.diagnostics.metrics_view import MetricsView, PromView, ScrapeView
from codeweaver.diagnostics.promtext import parse
from codeweaver.diagnostics.service_checks import qdrant_collections, redis_memory

__all__ = ["RemoteTarget", "remote_checks"]

PERMISSIONS = "/api/v1/user/permissions"
_HEALTH_STATUS: dict[str, Status] = {"healthy": "PASS", "degraded": "WARN", "unhealthy": "FAIL"}


@dataclass(frozen=True, slots=True)
class RemoteTarget:
    url: str
    token: str | None = None
    prometheus_url: str | None = None
    ca_file: Path | None = None
    timeout: float = 10.0
    qdrant_url: str | None = None  # the Qdrant server of server mode, asked directly
    qdrant_api_key: str | None = None
    redis_url: str | None = None

    def get(self, path: str) -> http_get.Response:
        return http_get.get(
            self.url + path, token=self.token, ca_file=self.ca_file, timeout=self.timeout
        )


def _pct(x: float) -> str:
    return f"{x * 100:.2f} %"


class _Remote:
    def __init__(self, target: RemoteTarget, limits: OperationsSettings) -> None:
        self.t = target
        self.limits = limits
        self.health: dict[str, Any] = {}
        self.view: MetricsView | None = None
        self.view_note = ""
        self.reached = False
        self.public_health = False

    # ------------------------------------------------------------------ service
    def service(self) -> tuple[Status, str]:
        resp = self.t.get("/api/v1/health")
        self.reached = True
        if resp.status in (401, 403, 404):  # no token, or an older server: the public summary
            refused = resp.status
            resp = self.t.get("/health")
            self.public_health = refused != 404
        if resp.status not in (200, 503):
            return "FAIL", f"health endpoint answered HTTP {resp.status}"
        body = resp.json()
        self.health = body.get("components", {}) if isinstance(body, dict) else {}
        status = str(body.get("status", "unknown"))
        bad = [
            f"{k}: {_component_status(v)}"
            for k, v in self.health.items()
            if _component_status(v) != "healthy"
        ]
        detail = f"{status}" + (f" ({'; '.join(bad)})" if bad else "")
        if self.public_health:
            detail += " (public /health; pass --token for component details)"
        return _HEALTH_STATUS.get(status, "FAIL"), detail

    def auth(self) -> tuple[Status, str]:
        resp = self.t.get(PERMISSIONS)
        if resp.status == 200:
            body = resp.json()
            if isinstance(body, dict) and body.get("kind") == "local":
                # auth mode "none": every caller is the local user, nothing was checked
                if self.t.token:
                    return "WARN", "the server has no authentication; the token was not checked"
                return "PASS", "authentication is not enabled on this server (loopback only)"
            who = (
                body.get("user") or body.get("username") or body.get("subject")
                if isinstance(body, dict)
                else None
            )
            return "PASS", "token accepted" + (f" (user {who})" if who else "")
        if resp.status in (401, 403):
            if not self.t.token:
                return "FAIL", f"the server requires a token (HTTP {resp.status}); pass --token"
            return "FAIL", f"token rejected (HTTP {resp.status})"
        if resp.status == 404:
            if self.t.token:
                return "WARN", "the server has no authentication; the token was not checked"
            return "PASS", "authentication is not enabled on this server"
        return "FAIL", f"{PERMISSIONS} answered HTTP {resp.status}"

    def store(self) -> tuple[Status, str]:
        if self.t.qdrant_url:
            return qdrant_collections(
                self.t.qdrant_url,
                self.t.qdrant_api_key,
                ca_file=self.t.ca_file,
                timeout=self.t.timeout,
            )
        comp = self.health.get("vector_store")
        if comp is None:
            if self.public_health:
                return "SKIP", "the public /health names no vector store; pass --token"
            return "FAIL", "the health report has no vector_store component"
        status = _component_status(comp)
        if status != "healthy":
            return "FAIL", f"{status}: {_component_detail(comp)}"
        resp = self.t.get("/api/v1/projects")
        if resp.status in (401, 403) and not self.t.token:
            return "PASS", "store healthy (counting its collections needs --token)"
        if resp.status != 200:
            return "WARN", f"store healthy; project list answered HTTP {resp.status}"
        projects = resp.json().get("projects", [])
        if not projects:
            return "WARN", "store healthy but holds no collections (nothing indexed yet)"
        points = sum(int(p.get("points", 0)) for p in projects)
        return "PASS", f"{len(projects)} collections, {points} points"

    # ------------------------------------------------------------------ metrics
    def metrics(self) -> tuple[Status, str]:
        """Pick the metrics source: Prometheus when given, else the server's /metrics."""
        self.view_note = "metrics unavailable"
        if self.t.prometheus_url:
            client = PrometheusClient(self.t.prometheus_url, ca_file=self.t.ca_file)
            if not client.ready():
                self.view_note = f"Prometheus at {client.base_url} is not ready or unreachable"
                return "FAIL", self.view_note
            self.view = PromView(client)
            return "PASS", self.view.source
        resp = self.t.get("/metrics")
        if resp.status != 200:
            self.view_note = f"no metrics: {self.t.url}/metrics answered HTTP {resp.status}"
            return "SKIP", self.view_note
        self.view = ScrapeView(parse(resp.text), f"{self.t.url}/metrics")
        return "PASS", self.view.source

    def latency(self) -> tuple[Status, str]:
        if (view := self.view) is None:
            return "SKIP", self.view_note
        p95 = view.request_quantile(0.95)
        if p95 is None:
            return "SKIP", "no request latency recorded yet"
        limit = self.limits.p95_latency_seconds
        status: Status = "PASS" if p95 < limit else "WARN"
        return status, f"p95 {p95 * 1000:.1f} ms (limit {limit * 1000:.0f} ms)"

    def errors(self) -> tuple[Status, str]:
        if (view := self.view) is None:
            return "SKIP", self.view_note
        rate = view.error_rate()
        if rate is None:
            return "SKIP", "no requests recorded yet"
        limit = self.limits.error_rate
        status: Status = "PASS" if rate < limit else "WARN"
        return status, f"{_pct(rate)} of requests failed with 5xx (limit {_pct(limit)})"

    def cache(self) -> tuple[Status, str]:
        if (view := self.view) is None:
            return "SKIP", self.view_note
        rates = view.cache_hit_rate()
        if not rates:
            return "SKIP", "no cache metrics"
        limit = self.limits.cache_hit_rate
        low = sorted(k for k, v in rates.items() if v < limit)
        text = ", ".join(f"{k} {_pct(v)}" for k, v in sorted(rates.items()))
        if low:
            return "WARN", f"hit rate {text}; below {_pct(limit)}: {', '.join(low)}"
        return "PASS", f"hit rate {text} (each above {_pct(limit)})"

    def memory(self) -> tuple[Status, str]:
        if (view := self.view) is None:
            return "SKIP", self.view_note
        used = view.process_memory()
        if used is None:
            return "SKIP", "no memory metrics"
        mib = used / 1024**2
        limit = self.limits.memory_mib
        return ("PASS" if mib < limit else "WARN"), f"{mib:.0f} MiB (limit {limit} MiB)"

    # --------------------------------------------------------------------- other
    def tls(self) -> tuple[Status, str]:
        parts = urllib.parse.urlsplit(self.t.url)
        if parts.scheme != "https":
            return "SKIP", "not an https URL"
        host = parts.hostname or ""
        cert = fetch_certificate(host, parts.port or 443, ca_file=self.t.ca_file)
        days = cert.days_left()
        when = f"expires {cert.not_after:%Y-%m-%d} ({days:.1f} days)"
        if days <= 0:
            return "FAIL", f"certificate expired {cert.not_after:%Y-%m-%d}"
        if not cert.trusted:
            return "FAIL", f"certificate not trusted: {cert.trust_error}; {when}"
        if days < self.limits.tls_min_days:
            return "WARN", f"{when}; renew (want ≥ {self.limits.tls_min_days} days)"
        return "PASS", when

    def disk(self) -> tuple[Status, str]:
        comp = self.health.get("disk_space")
        if comp is None:
            return "SKIP", "the health report has no disk_space component"
        return _HEALTH_STATUS.get(_component_status(comp), "FAIL"), _component_detail(comp)

    def freshness(self) -> tuple[Status, str]:
        comp = self.health.get("index_freshness")
        status: Status = "SKIP"
        detail = "the health report has no index_freshness component"
        if comp is not None:
            status = _HEALTH_STATUS.get(_component_status(comp), "FAIL")
            detail = _component_detail(comp)
        stamps = self.view.index_last_success() if self.view is not None else {}
        max_age = self.limits.index_max_age_hours * 3600
        stale = sorted(p for p, ts in stamps.items() if time.time() - ts > max_age)
        if stale:
            hours = self.limits.index_max_age_hours
            return "WARN", f"last successful index older than {hours:g} h: {', '.join(stale)}"
        return status, detail


def _component_status(comp: Any) -> str:
    return str(comp.get("status", "unknown")) if isinstance(comp, dict) else str(comp)


def _component_detail(comp: Any) -> str:
    if isinstance(comp, dict):
        return str(comp.get("detail") or comp.get("status", ""))
    return str(comp)


def remote_checks(target: RemoteTarget, limits: OperationsSettings) -> list[Check]:
    r = _Remote(target, limits)
    out = [run_check("service health", r.service)]
    if not r.reached:
        rest = (
            "authentication",
            "vector store",
            "request latency",
            "error rate",
            "cache",
            "memory",
            "disk space",
            "index freshness",
        )
        out += [Check(name, "SKIP", "service unreachable") for name in rest]
        out.append(run_check("tls certificate", r.tls))
        return out
    out.append(run_check("authentication", r.auth))
    out.append(run_check("vector store", r.store))
    metrics = run_check("metrics", r.metrics)
    if metrics.status == "FAIL":  # e.g. Prometheus unreachable; the metric checks then SKIP
        out.append(metrics)
    out += [
        run_check("request latency", r.latency),
        run_check("error rate", r.errors),
        run_check("cache", r.cache),
        run_check("memory", r.memory),
    ]
    if target.redis_url:
        redis_url = target.redis_url
        out.append(run_check("redis memory", lambda: redis_memory(redis_url)))
    out += [
        run_check("tls certificate", r.tls),
        run_check("disk space", r.disk),
        run_check("index freshness", r.freshness),
    ]
    return out
