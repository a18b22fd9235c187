"""``codeweaver users add|list|disable|set-role|add-tenant``: the identity store's users
(SQLite in the data dir, or PostgreSQL with ``CODEWEAVER_DATABASE__URL``)."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from codeweaver.cli import render
from codeweaver.cli.errors import guarded
from codeweaver.cli.options import ConfigOpt, JsonOpt
from codeweaver.cli.state import settings_from
from codeweaver.errors import InputError

if TYPE_CHECKING:
    from codeweaver.auth.admin import Admin


__all__ = ["admin_session", "register", "when"]


@contextmanager
def admin_session(config: object) -> Iterator[Admin]:
    from codeweaver.auth.admin import Admin
    from codeweaver.auth.rbac import Roles
    from codeweaver.auth.setup import build_audit, open_store

    settings = settings_from(config)  # type: ignore[arg-type]
    roles = Roles(settings.auth.roles)
    store = open_store(settings)
    try:
        yield Admin(store, roles, build_audit(settings), actor=f"cli:{getpass.getuser()}")
    finally:
        store.db.close()


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InputError("no password on standard input")
        return line
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def register(app: typer.Typer) -> None:
    """Add the ``users`` command group to ``app``."""
    users = typer.Typer(
        help="Manage users and service accounts.", no_args_is_help=True, rich_markup_mode=None
    )
    app.add_typer(users, name="users")

    @users.command("add")
    @guarded
    def add(
        name: Annotated[str, typer.Argument(help="User name.")],
        role: Annotated[str, typer.Option("--role", help="Role name.")] = "developer",
        tenant: Annotated[str, typer.Option("--tenant", help="Primary tenant.")] = "default",
        service: Annotated[
            bool, typer.Option("--service", help="A service account (API keys, no password).")
        ] = False,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from stdin.")
        ] = False,
        config: ConfigOpt = None,
    ) -> None:
        """Add a user (asks for the password) or a service account."""
        password = None if service else _password(password_stdin)
        with admin_session(config) as admin:
            user = admin.add_user(name, role, tenant, password, service=service)
        render.info(f"added {user.kind} {user.name} (role {user.role}, tenant {tenant})")

    @users.command("list")
    @guarded
    def list_(json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
        """List users."""
        from rich.table import Table

        with admin_session(config) as admin:
            items = [u.public() for u in admin.list_users()]
        if json_out:
            render.print_json({"users": items})
            return
        table = Table("user", "kind", "role", "tenants", "disabled", "created")
        for u in items:
            tenants = ", ".join(u["tenants"])
            table.add_row(
                u["name"], u["kind"], u["role"], tenants, str(u["disabled"]), when(u["created_at"])
            )
        render.out.print(table)

    @users.command("disable")
    @guarded
    def disable(
        name: Annotated[str, typer.Argument(help="User name.")],
        enable: Annotated[bool, typer.Option("--enable", help="Enable again instead.")] = False,
        config: ConfigOpt = None,
    ) -> None:
        """Disable a user: its tokens and keys stop working at once."""
        with admin_session(config) as admin:
            admin.disable(name, not enable)
        render.info(f"{'enabled' if enable else 'disabled'} {name}")

    @users.command("set-role")
    @guarded
    def set_role(
        name: Annotated[str, typer.Argument(help="User name.")],
        role: Annotated[str, typer.Argument(help="Role name.")],
        config: ConfigOpt = None,
    ) -> None:
        """Change a user's role."""
        with admin_session(config) as admin:
            admin.set_role(name, role)
        render.info(f"{name} now has role {role}")

    @users.command("add-tenant")
    @guarded
    def add_tenant(
        name: Annotated[str, typer.Argument(help="User name.")],
        tenant: Annotated[str, typer.Argument(help="Tenant to add.")],
        config: ConfigOpt = None,
    ) -> None:
        """Let a user see another tenant's projects."""
        with admin_session(config) as admin:
            admin.add_tenant(name, tenant)
        render.info(f"{name} now belongs to tenant {tenant}")
