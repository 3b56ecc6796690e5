"""Mail messages umfax writes: status reports, received faxes, refusal replies.

Every message carries a Message-ID derived from its outbox row, so a delivery repeated
after a crash is the same message (and mail clients show it once).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from umfax.config import Config
from umfax.conversion import ConversionError, pages_to_pdf, preview_png, tiff_to_pages
from umfax.errors import describe_error
from umfax.lifecycle import CAUSE_TEXT, FailureCause, JobState
from umfax.notifications.facts import CallFacts, JobFacts, JobReport, ReceivedFax
from umfax.numbers import display
from umfax.states import InboundState

logger = logging.getLogger(__name__)

#: Marks a message as a fax for clients that know (RFC 3458; Exchange and Outlook
#: show such items as faxes).
FAX_CONTEXT = "fax-message"


@dataclass(frozen=True, slots=True)
class Outgoing:
    message: EmailMessage
    envelope_from: str | None = None  # "" for the null reverse-path (automatic replies)


def _msgid(kind: str, outbox_id: int, config: Config) -> str:
    domain = config.mail.from_address.rpartition("@")[2] or "localhost"
    return f"<umfax.{kind}.{outbox_id}.{config.server.node_name}@{domain}>"


def _base(config: Config, to: str, subject: str, outbox_id: int, kind: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = Address(config.mail.from_name, addr_spec=config.mail.from_address)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = _msgid(kind, outbox_id, config) if outbox_id else make_msgid()
    return message


def _thread(message: EmailMessage, in_reply_to: str) -> None:
    if in_reply_to:
        ref = f"<{in_reply_to.strip('<>')}>"
        message["In-Reply-To"] = ref
        message["References"] = ref


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "-"


def _duration(start: datetime | None, end: datetime | None) -> str:
    if not start or not end:
        return "-"
    seconds = int((end - start).total_seconds())
    return f"{seconds // 60}:{seconds % 60:02d}"


def job_report(config: Config, report: JobReport, to: str, outbox_id: int) -> Outgoing:
    """A status report on a finished job to its sender, threaded to their message."""
    job = report.job
    attempts = report.calls
    state = JobState(job.state)
    who = display(job.number) + (f" ({job.recipient_name})" if job.recipient_name else "")
    if state is JobState.SENT:
        headline = f"Fax to {who} sent: {job.page_count} page(s)"
    elif state is JobState.CANCELLED:
        headline = f"Fax to {who} cancelled"
    else:
        headline = f"Fax to {who} FAILED"
    subject = headline + (f" — {job.subject}" if job.subject else "")
    message = _base(config, to, subject, outbox_id, "report")
    _thread(message, job.message_id)
    message["X-Fax-Job"] = str(job.id)
    message["X-Fax-Status"] = state.value
    message["X-Fax-Number"] = job.number
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_report_text(job, attempts, state, headline))
    thumbnail = _first_page_png(report.first_page, job)
    if thumbnail is not None:
        message.add_attachment(thumbnail, maintype="image", subtype="png", filename=f"fax-{job.id}-page1.png")
    return Outgoing(message)


def _report_text(job: JobFacts, attempts: list[CallFacts], state: JobState, headline: str) -> str:
    lines = [headline, ""]
    if state is JobState.SENT:
        lines.append(f"All {job.page_count} page(s) were received by the remote fax machine.")
    elif state is JobState.FAILED:
        cause = FailureCause(job.last_cause) if job.last_cause else None
        lines.append(f"Why: {job.status or (CAUSE_TEXT[cause] if cause else 'not sent')}.")
        lines.append(f"Pages confirmed before it stopped: {job.pages_done} of {job.page_count}.")
        lines.append(_next_step(cause, job))
    elif state is JobState.CANCELLED:
        lines.append(f"The job was cancelled. Pages confirmed: {job.pages_done} of {job.page_count}.")
    lines += [
        "",
        f"Job:        {job.id}",
        f"To:         {display(job.number)}" + (f", {job.recipient_name}" if job.recipient_name else ""),
        f"Subject:    {job.subject or '-'}",
        f"Submitted:  {_when(job.created_at)}",
        f"Finished:   {_when(job.completed_at)}",
        f"Tries:      {job.tries} (dials {job.dials})",
        "",
        "Calls:",
    ]
    if not attempts:
        lines.append("  none (the fax was never dialled)")
    for n, a in enumerate(attempts, start=1):
        rate = f"{a.bit_rate} bit/s" if a.bit_rate else "-"
        coding = f"{a.encoding.upper()}{' ECM' if a.ecm else ''}" if a.encoding else "-"
        lines.append(
            f"  {n}. {_when(a.started_at)}  line {a.line}  {_duration(a.started_at, a.ended_at)}  "
            f"{a.result or 'in progress'}  pages {a.pages_sent}/{a.pages_total}  {rate}  {coding}"
            + (f"  remote {a.remote_id!r}" if a.remote_id else "")
            + (f"\n     {a.message}" if a.message and a.result not in (None, "ok") else "")
        )
    lines += ["", "-- ", "umfax fax server"]
    return "\n".join(lines) + "\n"


def _next_step(cause: FailureCause | None, job: JobFacts) -> str:
    if cause is FailureCause.BAD_DOCUMENT:
        return "What to do: send the document as PDF, or fix what the reason above names, and fax again."
    if cause in (FailureCause.INVALID_NUMBER, FailureCause.BLOCKED_NUMBER):
        return "What to do: check the fax number; ask your fax administrator if it should be allowed."
    if cause in (FailureCause.BUSY, FailureCause.NO_ANSWER, FailureCause.NO_CARRIER):
        return "What to do: check the number is a fax machine and switched on, then send again later."
    return (
        f"What to do: send again, or ask your fax administrator to retry job {job.id} "
        f"(`umfax retry {job.id}`)."
    )


def _first_page_png(first_page: bytes | None, job: JobFacts) -> bytes | None:
    if first_page is None:
        return None
    try:
        return preview_png(tiff_to_pages(first_page)[0], max_width=400)
    except ConversionError as exc:
        logger.warning("no thumbnail for the report", extra={"job": job.id, "error": describe_error(exc)})
        return None


def inbound_fax(config: Config, received: ReceivedFax, to: str, outbox_id: int) -> Outgoing:
    """A received fax as a mail message: PDF, first-page preview, the call's facts."""
    fax = received.fax
    pages = [p for data in received.pages for p in tiff_to_pages(data)]
    sender = (
        fax.caller_name or fax.remote_id.strip() or (display(fax.caller_number) if fax.caller_number else "")
    )
    subject = f"Fax from {sender or 'unknown sender'} ({fax.pages} page{'s' if fax.pages != 1 else ''})"
    if fax.state == InboundState.PARTIAL:
        subject += " — incomplete"
    message = _base(config, to, subject, outbox_id, "fax")
    message["Message-Context"] = FAX_CONTEXT
    message["X-Fax-Id"] = str(fax.id)
    message["X-Fax-Caller-Number"] = fax.caller_number or ""
    message["X-Fax-Caller-Name"] = fax.caller_name or ""
    message["X-Fax-CSI"] = fax.remote_id or ""
    message["X-Fax-Called-Number"] = fax.called_number or ""
    message["X-Fax-Pages"] = str(fax.pages)
    message["X-Fax-Duration"] = _duration(fax.started_at, fax.ended_at)
    message["X-Fax-Line"] = fax.line
    message["X-Fax-Status"] = fax.state
    facts = [
        f"You received a fax of {fax.pages} page(s).",
        ""
        if fax.state == InboundState.RECEIVED
        else f"The call ended early ({fax.message or fax.result}): the pages that arrived are attached.",
        "",
        f"From:       {sender or 'unknown'}",
        f"Caller ID:  {display(fax.caller_number) if fax.caller_number else 'unknown'}"
        + (f" ({fax.caller_name})" if fax.caller_name else ""),
        f"Station ID: {fax.remote_id or '-'}",
        f"To number:  {display(fax.called_number) if fax.called_number else '-'}",
        f"Received:   {_when(fax.started_at)}",
        f"Duration:   {_duration(fax.started_at, fax.ended_at)}",
        f"Pages:      {fax.pages}",
        f"Speed:      {fax.bit_rate or '-'} bit/s, {fax.encoding.upper() or '-'}{' ECM' if fax.ecm else ''}",
        f"Line:       {fax.line}",
        "",
        "-- ",
        "umfax fax server",
    ]
    message.set_content("\n".join(line for line in facts if line is not None) + "\n")
    if pages:
        stamp = (fax.started_at or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
        message.add_attachment(
            pages_to_pdf(pages, title=subject),
            maintype="application",
            subtype="pdf",
            filename=f"fax-{stamp}-{fax.id}.pdf",
        )
        message.add_attachment(preview_png(pages[0]), maintype="image", subtype="png", filename="page1.png")
    return Outgoing(message)


def refusal(config: Config, payload: dict[str, object], outbox_id: int) -> Outgoing:
    """A reply to a message we did not fax (or faxed only in part), saying why."""
    to = str(payload["to"])
    original = str(payload.get("subject") or "")
    partial = payload.get("kind") == "partial"
    subject = ("Fax only partly sent: " if partial else "Fax not sent: ") + (original or "(no subject)")
    message = _base(config, to, subject, outbox_id, "reply")
    _thread(message, str(payload.get("in_reply_to") or ""))
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    reason = str(payload.get("reason") or "")
    head = "Some recipients of your message were not faxed:" if partial else "Your message was not faxed:"
    message.set_content(f"{head}\n\n  {reason}\n\nThis is an automatic reply; answers are not read.\n")
    return Outgoing(message, envelope_from="")
