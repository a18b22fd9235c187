"""``codeweaver keys create|list|revoke``: API keys (shown once, stored hashed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from codeweaver.cli import render
from codeweaver.cli.errors import guarded
from codeweaver.cli.options import ConfigOpt, JsonOpt
from codeweaver.cli.users_cmd import admin_session, when

if TYPE_CHECKING:
    pass


__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``keys`` command group to ``app``."""
    keys = typer.Typer(help="Manage API keys.", no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(keys, name="keys")

    @keys.command("create")
    @guarded
    def create(
        user: Annotated[str, typer.Argument(help="User or service account owning the key.")],
        name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "default",
        expires_days: Annotated[
            float | None, typer.Option("--expires-days", help="Expire after this many days.")
        ] = None,
        json_out: JsonOpt = False,
        config: ConfigOpt = None,
    ) -> None:
        """Create an API key; it is printed once and cannot be shown again."""
        with admin_session(config) as admin:
            record, key = admin.create_key(user, name, expires_days)
        if json_out:
            render.print_json({**record.public(), "api_key": key})
            return
        render.out.print(key)
        render.info(f"key {record.key_id} for {user}: store it now, it is not shown again")

    @keys.command("list")
    @guarded
    def list_(
        user: Annotated[str | None, typer.Option("--user", help="Only this user's keys.")] = None,
        json_out: JsonOpt = False,
        config: ConfigOpt = None,
    ) -> None:
        """List API keys (never the keys themselves)."""
        from rich.table import Table

        with admin_session(config) as admin:
            items = [k.public() for k in admin.list_keys(user)]
        if json_out:
            render.print_json({"keys": items})
            return
        table = Table("key id", "user", "name", "created", "expires", "revoked")
        for k in items:
            table.add_row(
                k["key_id"],
                k["user"],
                k["name"],
                when(k["created_at"]),
                when(k["expires_at"]),
                str(k["revoked"]),
            )
        render.out.print(table)

    @keys.command("revoke")
    @guarded
    def revoke(
        key_id: Annotated[str, typer.Argument(help="Key id (see 'keys list').")],
        config: ConfigOpt = None,
    ) -> None:
        """Revoke an API key at once."""
        with admin_session(config) as admin:
            admin.revoke_key(key_id)
        render.info(f"revoked key {key_id}")
