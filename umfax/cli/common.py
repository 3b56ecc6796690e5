"""What every command shares: options, exit codes, error reporting, JSON output."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from umfax.config import CONFIG_ENV, Config, load_config
from umfax.errors import ConfigError, InvalidNumber, InvalidTransition, NotFound, StoreError, UmfaxError
from umfax.store import Store, open_store

console = Console()
err_console = Console(stderr=True)


class Exit(enum.IntEnum):
    """Exit codes, documented in ``umfax --help``."""

    OK = 0
    FAILED = 1  # the fax (or the thing asked for) failed
    USAGE = 2  # bad command line (typer's own)
    CONFIG = 3  # the configuration is invalid
    NOT_FOUND = 4  # no such job or fax
    REFUSED = 5  # invalid number, forbidden by dial rules, or a state that does not allow it
    STORE = 6  # the store could not be reached
    INTERRUPTED = 130


EXIT_HELP = (
    "Exit codes: 0 success; 1 the fax or operation failed; 2 usage error; 3 invalid "
    "configuration; 4 no such job or fax; 5 refused (invalid number, dial rules, state); "
    "6 store unreachable; 130 interrupted."
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar=CONFIG_ENV,
        show_envvar=True,
        dir_okay=False,
        help="Configuration file (TOML). Without one, embedded defaults are used.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def fail(message: str, code: Exit, hint: str = "") -> NoReturn:
    """Print ``message`` (and ``hint``) as they are, brackets and all, and exit ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    if hint:
        err_console.print(f"[dim]{escape(hint)}[/]", highlight=False)
    raise typer.Exit(int(code))


def add_row(table: Table, *cells: object) -> None:
    """Add a row whose cells show as they are.

    rich reads a plain string cell as markup, so data with brackets in it (a station ID
    sent by the far end, a subject like "[urgent]", a config key like ``[[users]]``) would
    lose them or restyle the table. A ``Text`` cell keeps its own style.
    """
    table.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in cells))


@contextmanager
def errors() -> Iterator[None]:
    """Translate umfax errors into a message and an exit code."""
    try:
        yield
    except ConfigError as exc:
        fail(
            str(exc),
            Exit.CONFIG,
            "`umfax config check FILE` validates a file; config.example.toml documents every key.",
        )
    except NotFound as exc:
        fail(str(exc), Exit.NOT_FOUND)
    except (InvalidNumber, InvalidTransition) as exc:
        fail(str(exc), Exit.REFUSED)
    except StoreError as exc:
        fail(str(exc), Exit.STORE, "Check [store] in the configuration and that the database is up.")
    except UmfaxError as exc:
        fail(str(exc), Exit.FAILED)
    except KeyboardInterrupt:
        raise typer.Exit(int(Exit.INTERRUPTED)) from None


def load(config_path: Path | None) -> Config:
    with errors():
        return load_config(config_path)


def store_for(config: Config) -> Store:
    with errors():
        return open_store(config)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(type(value).__name__)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=_default, indent=2) + "\n")


def row_dict(
    row: Any, fields: list[str], convert: dict[str, Callable[[Any], Any]] | None = None
) -> dict[str, Any]:
    out = {}
    for name in fields:
        value = getattr(row, name)
        if convert and name in convert:
            value = convert[name](value)
        out[name] = value
    return out
