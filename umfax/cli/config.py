"""``umfax config check`` and ``umfax config show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from umfax.cli.common import ConfigOption, JsonOption, console, errors, load, print_json

config_app = typer.Typer(help="Check and show configuration.", no_args_is_help=True)


@config_app.command("check")
def config_check(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="The TOML file to check.")],
    json_out: JsonOption = False,
) -> None:
    """Validate a configuration file; exit 3 with the offending keys if it is invalid."""
    cfg = load(file)
    with errors():
        url = cfg.database_url()
    if json_out:
        print_json(
            {"valid": True, "lines": [line.name for line in cfg.lines], "store": url.split("://", 1)[0]}
        )
        return
    console.print(
        f"{escape(str(file))}: valid; {len(cfg.lines)} line(s), store {url.split('://', 1)[0]}, "
        f"data directory {cfg.server.data_dir}"
    )


@config_app.command("show")
def config_show(config: ConfigOption = None) -> None:
    """Print the effective configuration (defaults filled in) as JSON."""
    cfg = load(config)
    print_json(cfg.model_dump(mode="json"))


def register(app: typer.Typer) -> None:
    """Add the ``config`` command group to the umfax CLI."""
    app.add_typer(config_app, name="config")
