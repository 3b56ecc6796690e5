"""``umfax lines``: each configured line and the state the server last reported."""

from __future__ import annotations

import typer
from rich.table import Table

from umfax.cli.common import (
    ConfigOption,
    JsonOption,
    add_row,
    console,
    err_console,
    errors,
    load,
    print_json,
    store_for,
)
from umfax.numbers import display
from umfax.records import line_rows


def lines(json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Show each configured line: its port, number and state as the server last reported it."""
    cfg = load(config)
    store = store_for(cfg)
    with errors():
        states = {row.name: row for row in store.line_states()}
    rows = line_rows(cfg, states.values())
    if json_out:
        print_json(rows)
        return
    table = Table(box=None, header_style="bold")
    for column in ("line", "number", "port", "state", "since", "detail"):
        table.add_column(column)
    for r in rows:
        reported = states.get(r["name"])
        since = reported.updated_at.astimezone().strftime("%H:%M:%S") if reported else "-"
        number = display(r["number"]) if r["number"] else "-"
        state = r["state"] + (f" (no report since {since}; server down?)" if r["stale"] else "")
        detail = r["detail"]
        if r["registration"] and r["registration"] not in detail:  # a SIP channel mid-call
            detail = f"{detail} ({r['registration']})".strip()
        add_row(table, r["name"], number, r["port"], state, since, detail)
    console.print(table)
    if not states:
        err_console.print("[dim]no server has reported yet; start one with `umfax serve`[/]")


def register(app: typer.Typer) -> None:
    """Add the ``lines`` command to the umfax CLI."""
    app.command()(lines)
