"""``umfax user``: people who sign in to the web console, their passwords and roles."""

from __future__ import annotations

import os
from enum import StrEnum
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
from umfax.config import Config
from umfax.store import Store
from umfax.store.accounts import AccountError, AccountInfo, AccountStore, check_password_strength
from umfax.store.audit import Audited, AuditLog
from umfax.store.web_sessions import SessionStore

user_app = typer.Typer(
    help="Manage web console users: add, list, set passwords and roles, disable, reset TOTP. "
    "\\[\\[users]] entries of the configuration appear here too (their role comes from the configuration).",
    no_args_is_help=True,
)

LoginArgument = Annotated[str, typer.Argument(metavar="LOGIN", help="The user's name or email.")]
PasswordEnvOption = Annotated[
    str,
    typer.Option(
        "--password-env",
        metavar="VAR",
        help="Take the password from this environment variable instead of asking "
        "(a password is never an argument: others could read it in the process list).",
    ),
]


class Role(StrEnum):
    user = "user"
    admin = "admin"


def _password(env: str) -> str:
    if env:
        value = os.environ.get(env, "")
        if not value:
            fail(f"the environment variable {env} is not set or empty", Exit.USAGE)
        return value
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt="Password again")
    return password


def _open(config: ConfigOption) -> tuple[Config, Store, AccountStore]:
    cfg = load(config)
    store = store_for(cfg)
    with errors():
        accounts = AccountStore(store, cfg)
        accounts.sync_config(cfg.users)
    return cfg, store, accounts


def _record(store: Store, action: str, account: AccountInfo, detail: str) -> None:
    AuditLog(store).record(Audited(action, "cli", None, "user", account.user_id, detail))


@user_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name: letters, digits, '.', '_' or '-'.")],
    email: Annotated[str, typer.Argument(help="Their email address (also a sign-in name).")],
    display_name: Annotated[str, typer.Option(help="The name shown in the console.")] = "",
    admin: Annotated[bool, typer.Option("--admin", help="Make them an administrator.")] = False,
    password_env: PasswordEnvOption = "",
    config: ConfigOption = None,
) -> None:
    """Add a console user (asks for their password twice, or reads --password-env)."""
    _, store, accounts = _open(config)
    password = _password(password_env)
    with errors():
        try:
            account = accounts.create(name, email, display_name=display_name, password=password, admin=admin)
        except AccountError as exc:
            fail(str(exc), Exit.REFUSED)
        _record(store, "change", account, "added" + (" as administrator" if admin else ""))
    console.print(f"added {account.name} <{account.email}>" + (" (administrator)" if admin else ""))


@user_app.command("list")
def list_users(json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """List console users (never passwords or secrets)."""
    _, _, accounts = _open(config)
    with errors():
        rows = accounts.list()
    if json_out:
        print_json(
            [
                {
                    "name": a.name,
                    "email": a.email,
                    "display_name": a.display_name,
                    "origin": a.origin,
                    "role": "admin" if a.admin else "user",
                    "disabled": a.disabled,
                    "password": a.has_password,
                    "totp": a.has_totp,
                    "locked_until": a.locked_until,
                    "last_signin_at": a.last_signin_at,
                }
                for a in rows
            ]
        )
        return
    if not rows:
        console.print("no console users; `umfax user add NAME EMAIL` adds one")
        return
    table = Table(box=None, header_style="bold")
    for column in ("name", "email", "role", "from", "password", "TOTP", "state", "last sign-in"):
        table.add_column(column)
    for a in rows:
        add_row(
            table,
            a.name,
            a.email,
            "admin" if a.admin else "user",
            a.origin,
            "set" if a.has_password else "-",
            "on" if a.has_totp else "-",
            "disabled" if a.disabled else ("locked" if a.locked_until else "active"),
            a.last_signin_at.astimezone().strftime("%Y-%m-%d %H:%M") if a.last_signin_at else "-",
        )
    console.print(table)


@user_app.command("passwd")
def passwd(login: LoginArgument, password_env: PasswordEnvOption = "", config: ConfigOption = None) -> None:
    """Set a user's password (also unlocks them) and sign them out everywhere."""
    _, store, accounts = _open(config)
    password = _password(password_env)
    with errors():
        try:
            check_password_strength(password)
            account = accounts.set_password(login, password)
        except AccountError as exc:
            fail(str(exc), Exit.REFUSED)
        SessionStore(store).end_all(account.user_id)
        _record(store, "change", account, "password set")
    console.print(f"password of {account.name} set; their sessions ended")


@user_app.command("role")
def role(
    login: LoginArgument,
    new_role: Annotated[Role, typer.Argument(metavar="ROLE", help="user or admin.")],
    config: ConfigOption = None,
) -> None:
    """Make a console user an administrator or a plain user.

    The role of a \\[\\[users]] entry is its 'admin' key in the configuration."""
    _, store, accounts = _open(config)
    with errors():
        try:
            account = accounts.set_admin(login, new_role is Role.admin)
        except AccountError as exc:
            fail(str(exc), Exit.REFUSED)
        _record(store, "change", account, f"role {new_role.value}")
    console.print(f"{account.name} is now {'an administrator' if account.admin else 'a user'}")


def _set_disabled(config: ConfigOption, login: str, disabled: bool) -> None:
    _, store, accounts = _open(config)
    with errors():
        account = accounts.set_disabled(login, disabled)
        if disabled:
            SessionStore(store).end_all(account.user_id)
        _record(store, "change", account, "disabled" if disabled else "enabled")
    console.print(f"{account.name} {'disabled and signed out' if disabled else 'enabled'}")


@user_app.command("disable")
def disable(login: LoginArgument, config: ConfigOption = None) -> None:
    """Stop a user signing in (and end their sessions); their faxes stay."""
    _set_disabled(config, login, True)


@user_app.command("enable")
def enable(login: LoginArgument, config: ConfigOption = None) -> None:
    """Let a disabled (or locked-out) user sign in again."""
    _set_disabled(config, login, False)


@user_app.command("totp-reset")
def totp_reset(login: LoginArgument, config: ConfigOption = None) -> None:
    """Remove a user's authenticator app (they lost their phone); they sign in with the password."""
    _, store, accounts = _open(config)
    with errors():
        account = accounts.reset_totp(login)
        SessionStore(store).end_all(account.user_id)
        _record(store, "change", account, "TOTP reset")
    console.print(f"TOTP of {account.name} removed; they set it up again after signing in")


@user_app.command("delete")
def delete(
    login: LoginArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    config: ConfigOption = None,
) -> None:
    """Delete a console user's account: they can no longer sign in or send; their faxes stay."""
    _, store, accounts = _open(config)
    if not yes:
        typer.confirm(f"Delete the console account {login}?", abort=True)
    with errors():
        try:
            account = accounts.delete(login)
        except AccountError as exc:
            fail(str(exc), Exit.REFUSED)
        SessionStore(store).end_all(account.user_id)
        _record(store, "delete", account, "account deleted")
    console.print(f"account of {account.name} deleted")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
