"""Accepting a fax: one path for every front end (CLI, API, mail connectors)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from umfax.config import Config
from umfax.numbers import DialPlan, normalize
from umfax.store import DocumentIn, JobSpec, Store
from umfax.store.models import Job

PRIORITIES = {"low": -10, "normal": 0, "high": 10, "urgent": 20}


@dataclass(frozen=True, slots=True)
class FaxRequest:
    number: str  # as the sender wrote it
    documents: Sequence[DocumentIn]
    sender: str = ""
    recipient_name: str = ""
    recipient_company: str = ""
    subject: str = ""
    comments: str = ""
    cover: bool | None = None  # None: the configured default
    resolution: str | None = None
    paper: str | None = None
    priority: int = 0
    send_at: datetime | None = None
    user_id: int | None = None
    source: str = "cli"
    source_ref: str | None = None
    notify: dict[str, Any] | None = None


def submit_fax(store: Store, config: Config, request: FaxRequest) -> Job:
    """Validate ``request`` and store it as a job; raise ``InvalidNumber`` at once for a bad
    or forbidden number.  The job is committed when this returns."""
    number = normalize(request.number, config.fax.default_country)
    DialPlan(config.dial_rules, config.fax.default_country).check(number)
    now = datetime.now(UTC)
    start = request.send_at or now
    if start.tzinfo is None:
        start = start.astimezone(UTC)
    spec = JobSpec(
        number=number,
        number_as_given=request.number,
        recipient_name=request.recipient_name,
        recipient_company=request.recipient_company,
        sender=request.sender,
        user_id=request.user_id,
        subject=request.subject,
        comments=request.comments,
        cover=config.fax.cover if request.cover is None else request.cover,
        resolution=request.resolution or config.fax.resolution,
        paper=request.paper or config.fax.paper,
        priority=request.priority,
        not_before=start,
        kill_at=max(start, now) + timedelta(seconds=config.queue.kill_after),
        max_tries=config.queue.max_tries,
        max_dials=config.queue.max_dials,
        source=request.source,
        source_ref=request.source_ref,
        notify=request.notify or {},
    )
    return store.submit(spec, request.documents)
