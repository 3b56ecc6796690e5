"""``umfax``: send and receive faxes, run the server, inspect the queue."""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from umfax import __version__
from umfax.cli import apikey, convert
from umfax.cli.common import (
    EXIT_HELP,
    ConfigOption,
    Exit,
    JsonOption,
    add_row,
    console,
    err_console,
    errors,
    fail,
    load,
    print_json,
    row_dict,
    store_for,
)
from umfax.durations import format_duration, parse_duration
from umfax.lifecycle import JobState
from umfax.numbers import display
from umfax.records import ATTEMPT_FIELDS, INBOUND_FIELDS, JOB_FIELDS, line_rows
from umfax.states import InboundState, LineState
from umfax.store import DocumentIn, Store
from umfax.store.models import Job

app = typer.Typer(
    name="umfax",
    help=f"umfax: fax server and unified-messaging gateway.\n\n{EXIT_HELP}",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Check and show configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")

STATE_STYLE: dict[str, str] = {
    JobState.SENT: "green",
    JobState.FAILED: "red",
    JobState.CANCELLED: "yellow",
    JobState.SENDING: "cyan",
    JobState.CONVERTING: "cyan",
    JobState.QUEUED: "blue",
    JobState.PENDING: "blue",
}


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


# -- serve ---------------------------------------------------------------------------


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Run the fax server: lines, queue, scheduler and connectors, until SIGTERM/SIGINT.

    With no configuration: SQLite in the data directory (~/.local/share/umfax) and two
    simulated lines on a simulated phone network.
    """
    from umfax.logs import setup_logging
    from umfax.service import Server

    cfg = load(config)
    setup_logging(cfg.server.log_level, cfg.server.log_format)
    with errors():
        server = Server(cfg)
        err_console.print(
            f"umfax {__version__} serving {len(cfg.lines)} line(s) "
            f"[{', '.join(f'{line.name}={line.port}' for line in cfg.lines)}] "
            f"with store {server.store.dialect}"
            + (f", API on http://{cfg.api.listen}" if cfg.api.enabled else "")
            + "; Ctrl-C stops after calls in progress.",
            highlight=False,
            markup=False,  # the line list is in brackets, which rich would read as markup
        )
        server.serve_forever()


# -- send -----------------------------------------------------------------------------


def _parse_time(text: str) -> datetime:
    """``+30m``/``30m`` (from now), ``HH:MM`` (today or tomorrow), or an ISO 8601 time."""
    text = text.strip()
    now = datetime.now().astimezone()
    try:
        return now + timedelta(seconds=parse_duration(text.removeprefix("+")))
    except ValueError:
        pass
    try:
        parsed = datetime.strptime(text, "%H:%M")
        candidate = now.replace(hour=parsed.hour, minute=parsed.minute, second=0, microsecond=0)
        return candidate if candidate > now else candidate + timedelta(days=1)
    except ValueError:
        pass
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r} is not a time; use e.g. '+30m', '18:00' or '2026-12-01T09:00'"
        ) from exc
    return value if value.tzinfo else value.astimezone()


def _parse_priority(text: str) -> int:
    from umfax.submit import PRIORITIES

    if text.lower() in PRIORITIES:
        return PRIORITIES[text.lower()]
    try:
        return int(text)
    except ValueError as exc:
        raise typer.BadParameter(f"use one of {', '.join(PRIORITIES)} or a number") from exc


@app.command()
def send(
    number: Annotated[
        str,
        typer.Argument(
            help="Fax number, e.g. '+1 212 555 0100' or '(212) 555-0100', "
            "or an extension matching [dial_rules] extensions."
        ),
    ],
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="Documents: PDF, text, TIFF, images, office files.",
        ),
    ],
    cover: Annotated[
        bool | None, typer.Option("--cover/--no-cover", help="Add a cover page (default: \\[fax].cover).")
    ] = None,
    subject: Annotated[str, typer.Option(help="Subject, on the cover page.")] = "",
    comments: Annotated[str, typer.Option(help="Comments, on the cover page.")] = "",
    to: Annotated[str, typer.Option("--to", help="Recipient's name, on the cover page.")] = "",
    company: Annotated[str, typer.Option(help="Recipient's company, on the cover page.")] = "",
    sender: Annotated[str, typer.Option("--from", help="Sender's name or address.")] = "",
    at: Annotated[
        str | None, typer.Option("--at", help="Send later: '+30m', '18:00' or an ISO time.")
    ] = None,
    priority: Annotated[str, typer.Option(help="low, normal, high, urgent, or a number.")] = "normal",
    resolution: Annotated[str | None, typer.Option(help="standard, fine or superfine.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job until it is sent or fails.")] = False,
    timeout: Annotated[str, typer.Option(help="With --wait: give up waiting after this long.")] = "3h",
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Queue a fax to NUMBER.  With --wait, show progress and exit 1 if it fails."""
    from umfax.submit import FaxRequest, submit_fax

    if resolution is not None and resolution not in ("standard", "fine", "superfine"):
        raise typer.BadParameter("use standard, fine or superfine", param_hint="--resolution")
    cfg = load(config)
    store = store_for(cfg)
    documents = [
        DocumentIn(path.name, path.read_bytes(), mimetypes.guess_type(path.name)[0] or "") for path in files
    ]
    with errors():
        job = submit_fax(
            store,
            cfg,
            FaxRequest(
                number=number,
                documents=documents,
                sender=sender,
                recipient_name=to,
                recipient_company=company,
                subject=subject,
                comments=comments,
                cover=cover,
                resolution=resolution,
                priority=_parse_priority(priority),
                send_at=_parse_time(at) if at else None,
                source="cli",
            ),
        )
    if not wait:
        if json_out:
            print_json(row_dict(job, JOB_FIELDS))
        else:
            when = "" if not at else f", not before {job.not_before.astimezone():%Y-%m-%d %H:%M}"
            console.print(f"job [bold]{job.id}[/] queued to {display(job.number)}{when}")
        return
    final = _follow(store, job.id, parse_duration(timeout), quiet=json_out)
    if json_out:
        print_json(
            row_dict(final, JOB_FIELDS)
            | {"attempts": [row_dict(a, ATTEMPT_FIELDS) for a in store.attempts(job.id)]}
        )
    if final.state != JobState.SENT:
        raise typer.Exit(int(Exit.FAILED))


def _server_alive(store: Store) -> bool:
    recent = datetime.now(UTC) - timedelta(seconds=30)
    return any(line.updated_at >= recent and line.state != LineState.STOPPED for line in store.line_states())


def _follow(store: Store, job_id: int, timeout: float, quiet: bool) -> Job:
    """Print the job's events as they happen until it ends."""
    deadline = time.monotonic() + timeout
    last_event = 0
    warned = False
    started = time.monotonic()
    with console.status("waiting", spinner="dots") as status:
        while True:
            for event in store.events(job_id=job_id, after_id=last_event):
                last_event = event.id
                if not quiet and event.kind not in ("progress",):
                    stamp = event.at.astimezone().strftime("%H:%M:%S")
                    err_console.print(f"[dim]{stamp}[/] {escape(event.message)}", highlight=False)
            job = store.get_job(job_id)
            if JobState(job.state).terminal:
                break
            status.update(f"job {job_id}: {job.status}")
            if not warned and time.monotonic() - started > 10 and not _server_alive(store):
                err_console.print(
                    "[yellow]no umfax server seems to be running on this store; "
                    "start one with `umfax serve` (the job stays queued)[/]"
                )
                warned = True
            if time.monotonic() > deadline:
                err_console.print(
                    f"still {job.state} after {format_duration(timeout)}; `umfax show {job_id}` follows up"
                )
                raise typer.Exit(int(Exit.FAILED))
            time.sleep(0.25)
    if not quiet:
        colour = STATE_STYLE.get(job.state, "")
        console.print(f"job {job.id}: [bold {colour}]{job.state}[/] — {escape(job.status)}")
    return job


# -- jobs / show / cancel / retry ------------------------------------------------------------


def _state_option(values: list[str] | None) -> list[JobState] | None:
    if not values:
        return None
    try:
        return [JobState(v) for v in values]
    except ValueError as exc:
        raise typer.BadParameter(f"states are: {', '.join(s.value for s in JobState)}") from exc


@app.command()
def jobs(
    state: Annotated[
        list[str] | None, typer.Option("--state", "-s", help="Only jobs in this state (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many, newest first.")] = 50,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """List fax jobs, newest first."""
    states = _state_option(state)
    store = store_for(load(config))
    with errors():
        rows = store.list_jobs(states, limit=limit)
    if json_out:
        print_json([row_dict(job, JOB_FIELDS) for job in rows])
        return
    if not rows:
        console.print("no jobs" + (f" in state {', '.join(state or [])}" if state else ""))
        return
    table = Table(box=None, header_style="bold")
    for column in ("job", "state", "to", "pages", "tries", "created", "status"):
        table.add_column(column)
    for job in rows:
        add_row(
            table,
            job.id,
            Text(job.state, style=STATE_STYLE.get(job.state, "")),
            display(job.number) + (f" ({job.recipient_name})" if job.recipient_name else ""),
            f"{job.pages_done}/{job.page_count}",
            f"{job.tries}/{job.max_tries}",
            job.created_at.astimezone().strftime("%m-%d %H:%M"),
            job.status,
        )
    console.print(table)


@app.command()
def show(
    job_id: Annotated[int, typer.Argument(help="Job number.")],
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Show a job: its details, every call attempt and its event log."""
    store = store_for(load(config))
    with errors():
        job = store.get_job(job_id)
        attempts = store.attempts(job_id)
        events = store.events(job_id=job_id)
        documents = store.documents(job_id)
    if json_out:
        print_json(
            row_dict(job, JOB_FIELDS)
            | {
                "documents": [
                    {"filename": d.filename, "size": d.size, "sha256": d.sha256} for d in documents
                ],
                "attempts": [row_dict(a, ATTEMPT_FIELDS) for a in attempts],
                "events": [
                    {"at": e.at, "kind": e.kind, "message": e.message, "line": e.line, "data": e.data}
                    for e in events
                ],
            }
        )
        return
    colour = STATE_STYLE.get(job.state, "")
    console.print(f"[bold]job {job.id}[/]  [{colour}]{job.state}[/]  {escape(job.status)}")
    details = [
        (
            "to",
            display(job.number)
            + (f"  {job.recipient_name}" if job.recipient_name else "")
            + (f", {job.recipient_company}" if job.recipient_company else ""),
        ),
        ("from", job.sender or "-"),
        ("subject", job.subject or "-"),
        ("documents", ", ".join(f"{d.filename} ({d.size:,} B)" for d in documents)),
        ("pages", f"{job.pages_done} of {job.page_count} sent"),
        ("tries", f"{job.tries} of {job.max_tries}, dials {job.dials} of {job.max_dials}"),
        ("created", f"{job.created_at.astimezone():%Y-%m-%d %H:%M:%S}"),
        ("not before", f"{job.not_before.astimezone():%Y-%m-%d %H:%M:%S}"),
        ("kill time", f"{job.kill_at.astimezone():%Y-%m-%d %H:%M:%S}" if job.kill_at else "-"),
    ]
    for key, value in details:
        console.print(f"  [dim]{key:>10}[/]  {escape(value)}", highlight=False)
    if attempts:
        table = Table(title="calls", box=None, header_style="bold", title_justify="left")
        for column in (
            "#",
            "line",
            "started",
            "duration",
            "remote",
            "rate",
            "coding",
            "ecm",
            "pages",
            "result",
        ):
            table.add_column(column)
        for n, a in enumerate(attempts, start=1):
            duration = format_duration((a.ended_at - a.started_at).total_seconds()) if a.ended_at else "live"
            add_row(
                table,
                n,
                a.line,
                a.started_at.astimezone().strftime("%H:%M:%S"),
                duration,
                a.remote_id or "-",
                str(a.bit_rate or "-"),
                a.encoding or "-",
                "yes" if a.ecm else "no",
                f"{a.pages_sent}/{a.pages_total}",
                (a.result or "in progress") + (f": {a.message}" if a.message and a.result != "ok" else ""),
            )
        console.print(table)
    table = Table(title="events", box=None, header_style="bold", title_justify="left")
    table.add_column("time")
    table.add_column("event")
    table.add_column("")
    for e in events:
        add_row(table, e.at.astimezone().strftime("%H:%M:%S"), e.kind, e.message)
    console.print(table)


def _job_action(act: Callable[[Store], Job], json_out: bool, config: Path | None) -> None:
    store = store_for(load(config))
    with errors():
        job = act(store)
    if json_out:
        print_json(row_dict(job, JOB_FIELDS))
    else:
        said = job.state if job.status in ("", job.state) else f"{job.state}, {job.status}"
        console.print(f"job {job.id}: {escape(said)}")


@app.command()
def cancel(
    job_id: Annotated[int, typer.Argument(help="Job number.")],
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Cancel a job.  A call in progress ends when its current page has been sent."""
    _job_action(lambda store: store.cancel(job_id, by="cli"), json_out, config)


@app.command()
def retry(
    job_id: Annotated[int, typer.Argument(help="Job number.")],
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Requeue a failed or cancelled job (fresh tries), or dial a waiting job now."""
    _job_action(lambda store: store.retry(job_id, by="cli"), json_out, config)


# -- lines / inbox ----------------------------------------------------------------------------


@app.command()
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
        add_row(table, r["name"], number, r["port"], state, since, r["detail"])
    console.print(table)
    if not states:
        err_console.print("[dim]no server has reported yet; start one with `umfax serve`[/]")


@app.command()
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


@app.command()
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


# -- config ----------------------------------------------------------------------------------


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


convert.register(app)
apikey.register(app)


def run() -> None:
    app()
