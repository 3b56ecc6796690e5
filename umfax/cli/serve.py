"""``umfax serve``: run the fax server."""

from __future__ import annotations

import typer

from umfax import __version__
from umfax.cli.common import ConfigOption, err_console, errors, load


def serve(config: ConfigOption = None) -> None:
    """Run the fax server: lines, queue, scheduler and connectors, until SIGTERM/SIGINT.

    With no configuration: SQLite in the data directory (~/.local/share/umfax) and two
    simulated lines on a simulated phone network.
    """
    from umfax.logs import setup_logging
    from umfax.service import Server
    from umfax.web.setup_link import setup_link

    cfg = load(config)
    setup_logging(cfg.server.log_level, cfg.server.log_format)
    with errors():
        server = Server(cfg)
        err_console.print(
            f"umfax {__version__} serving {len(cfg.lines)} line(s) "
            f"[{', '.join(f'{line.name}={line.port}' for line in cfg.lines)}] "
            f"with store {server.store.dialect}"
            + (f", console and API on http://{cfg.api.listen}/" if cfg.api.enabled else "")
            + (
                f", fax printer ipp://{cfg.api.listen}/ipp/faxout"
                if cfg.api.enabled and cfg.printer.enabled
                else ""
            )
            + "; Ctrl-C stops after calls in progress.",
            highlight=False,
            markup=False,  # the line list is in brackets, which rich would read as markup
        )
        link = setup_link(cfg, server.store)
        if link is not None:
            err_console.print(
                f"No administrator yet: open {link} to create the first (works once, for 24 hours).",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        server.serve_forever()


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to the umfax CLI."""
    app.command()(serve)
