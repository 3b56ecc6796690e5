"""``umfax inbox``: list received faxes and voice messages, or export one (a fax as PDF or
TIFF, a voice message as WAV)."""

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
from umfax.store.models import Inbound


def inbox(
    fax_id: Annotated[int | None, typer.Argument(help="A received fax to export.")] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the fax here (.pdf or .tif; a voice message: .wav)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="List at most this many, newest first.")] = 50,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """List received faxes and voice messages, or export one with `umfax inbox ID -o fax.pdf`."""
    store = store_for(load(config))
    if fax_id is not None:
        _export_inbound(store, fax_id, output, json_out)
        return
    with errors():
        rows = store.list_inbound(limit=limit)
        seconds = store.inbound_seconds(r.id for r in rows if r.kind == "voice")
    if json_out:
        print_json([row_dict(r, INBOUND_FIELDS) | {"seconds": seconds.get(r.id)} for r in rows])
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
            str(r.pages) if r.kind == "fax" else f"voice {_length(seconds.get(r.id))}",
            r.state + (f": {r.message}" if r.state != InboundState.RECEIVED and r.message else ""),
        )
    console.print(table)


def _length(seconds: float | None) -> str:
    """A voice message's length as m:ss; "-" when no message was left."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _export_voice(store: Store, fax: Inbound, output: Path | None, json_out: bool) -> None:
    with errors():
        audio = store.inbound_audio(fax.id)
    seconds = audio.seconds if audio is not None else None
    row = row_dict(fax, INBOUND_FIELDS) | {"seconds": seconds}
    if output is None:
        if json_out:
            print_json(row)
        else:
            what = escape(fax.message or "no message")
            if audio is not None:
                what = f"a message of {_length(seconds)}; export it with "
                what += f"`umfax inbox {fax.id} -o voice{fax.id}.wav`"
            console.print(
                f"voice call {fax.id} from {escape(fax.caller_number or 'unknown')}, {fax.state}: {what}"
            )
        return
    if audio is None:
        fail(f"voice call {fax.id} left no message", Exit.FAILED)
    output.write_bytes(audio.wav)
    if json_out:
        print_json(row | {"output": str(output), "bytes": len(audio.wav)})
    else:
        console.print(f"wrote {escape(str(output))} ({_length(seconds)}, {len(audio.wav):,} bytes)")


def _export_inbound(store: Store, fax_id: int, output: Path | None, json_out: bool) -> None:
    from umfax.conversion import pages_to_pdf, pages_to_tiff, tiff_to_pages

    with errors():
        fax = store.get_inbound(fax_id)
    if fax.kind == "voice":
        _export_voice(store, fax, output, json_out)
        return
    with errors():
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
