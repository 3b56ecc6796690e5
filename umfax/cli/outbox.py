"""``umfax outbox``: notifications waiting, delivered or given up, and delivering one again."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from umfax.cli.common import (
    ConfigOption,
    JsonOption,
    add_row,
    console,
    errors,
    load,
    print_json,
    row_dict,
    store_for,
)

NOTICE_FIELDS = [
    "id",
    "origin",
    "channel",
    "target",
    "state",
    "tries",
    "last_error",
    "next_at",
    "created_at",
    "done_at",
]


def outbox(
    state: Annotated[
        str | None, typer.Option(help="Only notices in this state: pending, done or dead.")
    ] = None,
    retry: Annotated[
        int | None, typer.Option(help="Deliver this notice again now (e.g. a dead one).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many, newest first.")] = 50,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Notifications: status reports, received faxes delivered to users, replies."""
    from umfax.store.outbox import OutboxStore

    store = store_for(load(config))
    with errors():
        box = OutboxStore(store)
        if retry is not None:
            item = box.requeue(retry)
            if json_out:
                print_json(row_dict(item, NOTICE_FIELDS))
            else:
                console.print(f"notice {item.id} will be delivered again")
            return
        rows = box.items(state=state)[-limit:][::-1]
    if json_out:
        print_json([row_dict(r, NOTICE_FIELDS) for r in rows])
        return
    if not rows:
        console.print("no notifications" + (f" in state {state}" if state else ""))
        return
    table = Table(box=None, header_style="bold")
    for column in ("id", "created", "what", "to", "state", "tries", "last error"):
        table.add_column(column)
    for r in rows:
        add_row(
            table,
            r.id,
            r.created_at.astimezone().strftime("%m-%d %H:%M"),
            f"{r.channel} {r.origin.split(':')[0]} {r.origin.split(':')[1] if ':' in r.origin else ''}",
            r.target,
            r.state,
            str(r.tries),
            r.last_error[:60],
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``outbox`` command to the umfax CLI."""
    app.command()(outbox)
