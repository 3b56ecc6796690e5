"""``umfax jobs``, ``show``, ``cancel`` and ``retry``: the outbound queue, job by job."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

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
from umfax.durations import format_duration
from umfax.lifecycle import JobState
from umfax.numbers import display
from umfax.records import ATTEMPT_FIELDS, JOB_FIELDS
from umfax.store import Store
from umfax.store.models import Job

# How a job state is coloured in tables and messages (here and in `umfax send --wait`).
STATE_STYLE: dict[str, str] = {
    JobState.SENT: "green",
    JobState.FAILED: "red",
    JobState.CANCELLED: "yellow",
    JobState.SENDING: "cyan",
    JobState.CONVERTING: "cyan",
    JobState.QUEUED: "blue",
    JobState.PENDING: "blue",
}


def _state_option(values: list[str] | None) -> list[JobState] | None:
    if not values:
        return None
    try:
        return [JobState(v) for v in values]
    except ValueError as exc:
        raise typer.BadParameter(f"states are: {', '.join(s.value for s in JobState)}") from exc


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
                a.line + (f" ({a.transport})" if a.transport else ""),  # a SIP call: t38 or g711
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


def cancel(
    job_id: Annotated[int, typer.Argument(help="Job number.")],
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Cancel a job.  A call in progress ends when its current page has been sent."""
    _job_action(lambda store: store.cancel(job_id, by="cli"), json_out, config)


def retry(
    job_id: Annotated[int, typer.Argument(help="Job number.")],
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Requeue a failed or cancelled job (fresh tries), or dial a waiting job now."""
    _job_action(lambda store: store.retry(job_id, by="cli"), json_out, config)


def register(app: typer.Typer) -> None:
    """Add ``jobs``, ``show``, ``cancel`` and ``retry`` to the umfax CLI, in that order."""
    for command in (jobs, show, cancel, retry):
        app.command()(command)
