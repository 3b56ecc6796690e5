"""Accepting a fax: the one way from a request to a job, for every front end.

Each front end (CLI, REST API, Twilio-compatible API, mail intake; later web, printer,
SIP) reads its own input into a :class:`FaxRequest` and hands it to :class:`JobBuilder`,
which alone decides what the job will be: the destination (read and checked against the
dial rules, :class:`~umfax.numbers.DialPlan`), the configured defaults for cover,
resolution and paper, when it may start and when it is given up, and how often it is
tried.  :func:`submit_fax` builds and commits in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from umfax.config import Config
from umfax.numbers import Destination, DialPlan
from umfax.store import DocumentIn, JobSpec, Store
from umfax.store.models import Job

PRIORITIES = {"low": -10, "normal": 0, "high": 10, "urgent": 20}


@dataclass(frozen=True, slots=True)
class FaxRequest:
    """A fax as a front end received it, before any defaults or rules apply."""

    number: str  # as the sender wrote it
    documents: Sequence[DocumentIn]
    sender: str = ""
    recipient_name: str = ""
    recipient_company: str = ""
    subject: str = ""
    comments: str = ""
    cover: bool | None = None  # None: the configured default
    cover_template: str = ""  # a cover page template's name; "": the configured default
    resolution: str | None = None  # None: the configured default
    paper: str | None = None  # None: the configured default
    priority: int = 0
    send_at: datetime | None = None  # None: now
    user_id: int | None = None
    source: str = "cli"
    source_ref: str | None = None
    notify: dict[str, Any] | None = None


class JobBuilder:
    """Turns a :class:`FaxRequest` into the :class:`JobSpec` the store commits, with one
    site's configuration.  Cheap to keep; thread-safe (holds no mutable state)."""

    __slots__ = ("config", "dial_plan")

    def __init__(self, config: Config) -> None:
        self.config = config
        self.dial_plan = DialPlan(config.dial_rules, config.fax.default_country)

    def destination(self, written: str) -> Destination:
        """Where a fax to ``written`` would go, or :class:`~umfax.errors.InvalidNumber`
        saying why it may not (unreadable, or refused by the dial rules)."""
        return self.dial_plan.resolve(written)

    def spec(self, request: FaxRequest, *, now: datetime | None = None) -> JobSpec:
        """The job for ``request``; raises :class:`~umfax.errors.InvalidNumber` for a bad or
        forbidden destination, :class:`~umfax.conversion.cover_templates.UnknownCoverTemplate`
        for a cover page template the server does not offer."""
        destination = self.destination(request.number)
        fax, queue = self.config.fax, self.config.queue
        if request.cover_template:
            from umfax.conversion.cover_templates import template_path

            # raises UnknownCoverTemplate naming the templates on offer
            template_path(request.cover_template, fax.cover_template, fax.cover_templates)
        now = now or datetime.now(UTC)
        start = request.send_at or now
        if start.tzinfo is None:
            start = start.astimezone(UTC)
        return JobSpec(
            number=destination.address,
            number_as_given=request.number,
            recipient_name=request.recipient_name,
            recipient_company=request.recipient_company,
            sender=request.sender,
            user_id=request.user_id,
            subject=request.subject,
            comments=request.comments,
            cover=fax.cover if request.cover is None else request.cover,
            cover_template=request.cover_template,
            resolution=request.resolution or fax.resolution,
            paper=request.paper or fax.paper,
            priority=request.priority,
            not_before=start,
            kill_at=max(start, now) + timedelta(seconds=queue.kill_after),
            max_tries=queue.max_tries,
            max_dials=queue.max_dials,
            source=request.source,
            source_ref=request.source_ref,
            notify=request.notify or {},
        )


def submit_fax(store: Store, config: Config, request: FaxRequest) -> Job:
    """Validate ``request`` and store it as a job; raise ``InvalidNumber`` at once for a bad
    or forbidden number.  The job is committed when this returns."""
    return store.submit(JobBuilder(config).spec(request), request.documents)
