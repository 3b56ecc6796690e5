"""``umfax apikey``: keys for the REST API."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from umfax.cli.common import (
    ConfigOption,
    Exit,
    JsonOption,
    add_row,
    console,
    errors,
    fail,
    load,
    print_json,
    store_for,
)
from umfax.directory import UserDirectory
from umfax.records import public
from umfax.store.accounts import AccountStore
from umfax.store.api_keys import DEFAULT_SCOPES, SCOPES, ApiKeyStore, InvalidScope

apikey_app = typer.Typer(help="Create, list and revoke REST API keys.", no_args_is_help=True)

KEY_FIELDS = ["id", "user_name", "prefix", "scopes", "label", "created_at", "last_used_at", "revoked_at"]


@apikey_app.command("create")
def create(
    email: Annotated[
        str,
        typer.Argument(help="The \\[\\[users]] entry or console user (email or name) the key acts for."),
    ],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help=f"What the key may do (repeatable): {', '.join(SCOPES)}. Default: all."),
    ] = None,
    label: Annotated[str, typer.Option(help="A note to tell keys apart, e.g. the CRM's name.")] = "",
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Create a key and print it.  It is shown this once: only a digest is stored."""
    cfg = load(config)
    store = store_for(cfg)
    user = next((u for u in cfg.users if email.lower() in (u.email.lower(), u.name.lower())), None)
    if user is None:  # a console user (`umfax user add`)
        with errors():
            account = AccountStore(store, cfg).find(email)
        user = UserDirectory(cfg, store).get(account.name) if account is not None else None
    if user is None:
        fail(
            f"no [[users]] entry or console user has the email or name {email!r}",
            Exit.NOT_FOUND,
            "Add the user to [[users]] in the configuration (name, email) or with "
            "`umfax user add`, then create the key.",
        )
    with errors():
        try:
            key_id, key = ApiKeyStore(store).create(user.name, scope or DEFAULT_SCOPES, label)
        except InvalidScope as exc:
            fail(str(exc), Exit.USAGE)
    if json_out:
        print_json({"id": key_id, "user": user.name, "key": key, "scopes": sorted(scope or DEFAULT_SCOPES)})
        return
    console.print(f"API key {key_id} for {user.email} ({', '.join(sorted(scope or DEFAULT_SCOPES))}):")
    console.print(key, highlight=False, markup=False, soft_wrap=True)
    console.print("[dim]Keep it now: it cannot be shown again. Send it as 'Authorization: Bearer KEY'.[/]")


@apikey_app.command("list")
def list_keys(json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """List keys (never the keys themselves)."""
    store = store_for(load(config))
    with errors():
        rows = ApiKeyStore(store).list()
    if json_out:
        print_json([public(row, KEY_FIELDS) for row in rows])
        return
    if not rows:
        console.print("no API keys; `umfax apikey create EMAIL` makes one")
        return
    table = Table(box=None, header_style="bold")
    for column in ("id", "user", "key", "scopes", "label", "created", "last used", "state"):
        table.add_column(column)
    for row in rows:
        add_row(
            table,
            str(row.id),
            row.user_name,
            f"umf_{row.prefix}_…",
            ", ".join(row.scopes),
            row.label,
            row.created_at.astimezone().strftime("%Y-%m-%d %H:%M"),
            row.last_used_at.astimezone().strftime("%Y-%m-%d %H:%M") if row.last_used_at else "-",
            "revoked" if row.revoked_at else "active",
        )
    console.print(table)


@apikey_app.command("revoke")
def revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (`umfax apikey list`).")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key: a running server refuses it within 5 seconds."""
    store = store_for(load(config))
    with errors():
        row = ApiKeyStore(store).revoke(key_id)
    console.print(f"API key {row.id} of {row.user_name} revoked")


def register(app: typer.Typer) -> None:
    app.add_typer(apikey_app, name="apikey")
