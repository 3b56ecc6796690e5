"""``umfax send``: queue a fax, and with ``--wait`` follow it until it ends."""

from __future__ import annotations

import mimetypes
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from umfax.cli.common import (
    ConfigOption,
    Exit,
    JsonOption,
    console,
    err_console,
    errors,
    load,
    print_json,
    row_dict,
    store_for,
)
from umfax.cli.jobs import STATE_STYLE
from umfax.durations import format_duration, parse_duration
from umfax.lifecycle import JobState
from umfax.numbers import display
from umfax.records import ATTEMPT_FIELDS, JOB_FIELDS
from umfax.states import LineState
from umfax.store import DocumentIn, Store
from umfax.store.models import Job


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


def register(app: typer.Typer) -> None:
    """Add the ``send`` command to the umfax CLI."""
    app.command()(send)
