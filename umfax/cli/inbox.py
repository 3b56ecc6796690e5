"""``umfax inbox``: list received faxes, or export one as PDF or TIFF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
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
    row_dict,
    store_for,
)
from umfax.records import INBOUND_FIELDS
from umfax.states import InboundState
from umfax.store import Store


def inbox(
    fax_id: Annotated[int | None, typer.Argument(help="A received fax to export.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the fax here (.pdf or .tif).")
    ] = None,
    limit: Annotated[int, typer.Option(help="List at most this many, newest first.")] = 50,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """List received faxes, or export one with `umfax inbox ID -o fax.pdf`."""
    store = store_for(load(config))
    if fax_id is not None:
        _export_inbound(store, fax_id, output, json_out)
        return
    with errors():
        rows = store.list_inbound(limit=limit)
    if json_out:
        print_json([row_dict(r, INBOUND_FIELDS) for r in rows])
        return
    if not rows:
        console.print("no faxes received yet")
        return
    table = Table(box=None, header_style="bold")
    for column in ("fax", "received", "line", "from", "pages", "state"):
        table.add_column(column)
    for r in rows:
        sender = r.remote_id or r.caller_number or "unknown"
        if r.caller_name:
            sender += f" ({r.caller_name})"
        add_row(
            table,
            r.id,
            r.started_at.astimezone().strftime("%m-%d %H:%M"),
            r.line,
            sender,
            str(r.pages),
            r.state + (f": {r.message}" if r.state != InboundState.RECEIVED and r.message else ""),
        )
    console.print(table)


def _export_inbound(store: Store, fax_id: int, output: Path | None, json_out: bool) -> None:
    from umfax.conversion import pages_to_pdf, pages_to_tiff, tiff_to_pages

    with errors():
        fax = store.get_inbound(fax_id)
        pages = [p for page in store.inbound_pages(fax_id) for p in tiff_to_pages(page.data)]
        if output is None:
            if json_out:
                print_json(row_dict(fax, INBOUND_FIELDS))
            else:
                console.print(
                    f"fax {fax.id}: {fax.pages} page(s) from "
                    f"{escape(fax.remote_id or fax.caller_number or 'unknown')}, {fax.state}; "
                    f"export it with `umfax inbox {fax.id} -o fax{fax.id}.pdf`"
                )
            return
        if not pages:
            fail(f"fax {fax_id} has no pages", Exit.FAILED)
        data = pages_to_tiff(pages) if output.suffix.lower() in (".tif", ".tiff") else pages_to_pdf(pages)
        output.write_bytes(data)
    if json_out:
        print_json(row_dict(fax, INBOUND_FIELDS) | {"output": str(output), "bytes": len(data)})
    else:
        console.print(f"wrote {escape(str(output))} ({len(pages)} page(s), {len(data):,} bytes)")


def register(app: typer.Typer) -> None:
    """Add the ``inbox`` command to the umfax CLI."""
    app.command()(inbox)
