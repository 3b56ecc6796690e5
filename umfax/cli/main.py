"""``umfax``: send and receive faxes, run the server, inspect the queue.

The commands live one family to a module (``serve``, ``send``, ``jobs``, ``lines``,
``inbox``, ``outbox``, ``convert``, ``config``, ``apikey``); each adds itself to ``app``
here, in the order ``umfax --help`` lists them.  ``run`` is the console script.
"""

from __future__ import annotations

from typing import Annotated

import typer

from umfax import __version__
from umfax.cli import apikey, config, convert, inbox, jobs, lines, outbox, send, serve, user
from umfax.cli.common import EXIT_HELP, console

app = typer.Typer(
    name="umfax",
    help=f"umfax: fax server and unified-messaging gateway.\n\n{EXIT_HELP}",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"umfax {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """umfax: fax server and unified-messaging gateway."""


# The order here is the order of `umfax --help` (commands first, then groups).
serve.register(app)
send.register(app)
jobs.register(app)  # jobs, show, cancel, retry
lines.register(app)
inbox.register(app)
outbox.register(app)
convert.register(app)
config.register(app)
apikey.register(app)
user.register(app)


def run() -> None:
    app()
