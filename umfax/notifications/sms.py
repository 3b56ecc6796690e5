"""Text messages: one short line (under 160 characters) on what happened to a fax, or on a
voice message left."""

from __future__ import annotations

from umfax.lifecycle import CAUSE_TEXT, FailureCause, JobState
from umfax.numbers import display
from umfax.store.models import Inbound, Job

LIMIT = 160


def _fit(text: str) -> str:
    return text if len(text) <= LIMIT else text[: LIMIT - 1] + "…"


def job_text(job: Job) -> str:
    to = display(job.number) + (f" ({job.recipient_name})" if job.recipient_name else "")
    if job.state == JobState.SENT:
        return _fit(f"umfax: fax {job.id} to {to} sent, {job.pages_done} page(s).")
    why = CAUSE_TEXT[FailureCause(job.last_cause)] if job.last_cause else (job.status or "failed")
    done = f"{job.pages_done}/{job.page_count}"
    return _fit(f"umfax: fax {job.id} to {to} FAILED: {why}. {done} page(s) went through.")


def inbound_text(fax: Inbound) -> str:
    sender = fax.remote_id.strip() or (display(fax.caller_number) if fax.caller_number else "unknown sender")
    return _fit(f"umfax: fax received from {sender}, {fax.pages} page(s). It is in your mailbox.")


def voice_text(call: Inbound, seconds: float) -> str:
    """A voice message was left: who called, how long, where it is."""
    caller = call.caller_name or (display(call.caller_number) if call.caller_number else "unknown caller")
    whole = round(seconds)
    return _fit(f"umfax: voice message from {caller}, {whole // 60}:{whole % 60:02d}. It is in your mailbox.")
