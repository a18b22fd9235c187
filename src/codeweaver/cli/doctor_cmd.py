"""``codeweaver doctor``: PASS / WARN / FAIL checks of a deployment or of this machine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from codeweaver.cli import render
from codeweaver.cli.errors import guarded
from codeweaver.cli.options import ConfigOpt
from codeweaver.cli.state import settings_from
from codeweaver.errors import IndexingError, InputError

if TYPE_CHECKING:
    from codeweaver.config import Settings
    from codeweaver.diagnostics.checks import Check, Status
    from codeweaver.engine import Engine


__all__ = ["register", "show_checks"]

_STYLE = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red", "SKIP": "dim"}


def show_checks(checks: list[Check]) -> None:
    from rich.markup import escape

    from codeweaver.diagnostics.checks import worst

    width = max(len(c.name) for c in checks)
    for c in checks:
        render.out.print(
            f"[{_STYLE[c.status]}]{c.status}[/] {escape(c.name.ljust(width))}  {escape(c.detail)}"
        )
    render.out.print(f"overall: [{_STYLE[worst(checks)]}]{worst(checks)}[/]")


def _local_checks(settings: Settings, config: Path | None) -> list[Check]:
    """This machine's checks, run by the data directory's owner when one runs (it
    holds the stores), else here."""
    from codeweaver.cli.target import InProcess, Remote, target_from
    from codeweaver.diagnostics.checks import Check
    from codeweaver.diagnostics.doctor_local import local_checks
    from codeweaver.owner.client import connect

    client = connect(settings.home)
    if client is not None:
        found = Remote(client).doctor()
        return [Check(c["name"], _status(c["status"]), c["detail"]) for c in found]

    def engine() -> Engine:  # opened only once the data dir was checked as it is
        target = target_from(config)
        if not isinstance(target, InProcess):
            raise IndexingError("an owner started during the checks; run doctor again")
        return target.engine

    return local_checks(settings.home, settings.operations, engine)


def _status(value: str) -> Status:
    for status in ("PASS", "WARN", "FAIL", "SKIP"):
        if value == status:
            return status
    return "FAIL"


def register(app: typer.Typer) -> None:
    """Add the ``doctor`` command to ``app``."""

    @app.command()
    @guarded
    def doctor(
        url: Annotated[
            str | None, typer.Option("--url", help="Server to check (default: this machine).")
        ] = None,
        token: Annotated[
            str | None,
            typer.Option("--token", envvar="CODEWEAVER_TOKEN", help="Bearer token for the API."),
        ] = None,
        prometheus_url: Annotated[
            str | None,
            typer.Option("--prometheus-url", help="Read latency/errors from this Prometheus."),
        ] = None,
        ca_file: Annotated[
            Path | None, typer.Option("--ca-file", help="Trust this CA bundle for https.")
        ] = None,
        timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds.")] = 10.0,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        config: ConfigOpt = None,
        kubernetes: Annotated[
            bool, typer.Option("--kubernetes", help="Check the deployment in a cluster.")
        ] = False,
        namespace: Annotated[
            str | None, typer.Option("--namespace", help="Namespace (default: codeweaver).")
        ] = None,
        kubeconfig: Annotated[
            Path | None,
            typer.Option("--kubeconfig", help="Kubeconfig (default: $KUBECONFIG, in-cluster)."),
        ] = None,
    ) -> None:
        """Check health, auth, store, latency, errors, cache, memory, TLS, disk, freshness;
        with --kubernetes, the namespace, pods, services, restarts, pod memory, images.

        Exit code: 0 all passed, 1 something failed, 3 warnings only.
        """
        from codeweaver.adapters.http_get import validate_url
        from codeweaver.diagnostics.checks import exit_code, worst
        from codeweaver.diagnostics.doctor import RemoteTarget, remote_checks

        settings = settings_from(config)
        limits = settings.operations
        if (namespace or kubeconfig) and not kubernetes:
            raise InputError("--namespace and --kubeconfig need --kubernetes")
        if kubernetes:
            from codeweaver.cli.kube import DEFAULT_NAMESPACE, doctor_checks

            if url or prometheus_url or token:
                raise InputError("--kubernetes checks a cluster; run --url checks separately")
            checks = doctor_checks(namespace or DEFAULT_NAMESPACE, kubeconfig, timeout, limits)
        elif url:
            target = RemoteTarget(
                validate_url(url),
                token=token,
                prometheus_url=validate_url(prometheus_url) if prometheus_url else None,
                ca_file=ca_file,
                timeout=timeout,
                qdrant_url=settings.qdrant.url if settings.qdrant.mode == "server" else None,
                qdrant_api_key=settings.qdrant.api_key,
                redis_url=settings.redis.url,
            )
            checks = remote_checks(target, limits)
        else:
            if prometheus_url or token:
                raise InputError("--prometheus-url and --token need --url (a server to check)")
            checks = _local_checks(settings, config)
            if settings.redis.url:
                from codeweaver.diagnostics.checks import run_check
                from codeweaver.diagnostics.service_checks import redis_memory

                redis_url = settings.redis.url
                checks.append(run_check("redis memory", lambda: redis_memory(redis_url)))
        if json_out:
            render.print_json({"status": worst(checks), "checks": [c.as_dict() for c in checks]})
        else:
            show_checks(checks)
        raise typer.Exit(exit_code(checks))
