"""From the event log to webhook notices.

The relay reads the store's events in id order and, for each event of a fax, writes one
outbox notice per receiver: the fax's own ``callback_url`` and each matching
subscription.  A notice's origin is ``event:<id>``, unique per receiver, so reading an
event twice (after a restart, or in the overlap window that catches transactions
committed out of id order) never makes a second notice: delivery is at least once, with
a stable event id the receiver can deduplicate on.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from umfax.config import Config
from umfax.records import INBOUND_FIELDS, JOB_FIELDS, public
from umfax.store.jobs import Store
from umfax.store.models import Event, Inbound, Job, Outbox, utcnow
from umfax.store.outbox import Notice, add_notices

logger = logging.getLogger(__name__)

#: Event log kinds and the webhook event types they become.
TYPES = {
    "accepted": "fax.accepted",
    "converted": "fax.queued",
    "dialling": "fax.sending",
    "page_sent": "fax.page_sent",
    "retry_scheduled": "fax.retrying",
    "sent": "fax.sent",
    "failed": "fax.failed",
    "cancelled": "fax.cancelled",
    "retried": "fax.retried",
    "inbound_received": "fax.received",
    "inbound_partial": "fax.received",
}
CALLBACK = "callback"  # the secret reference of per-fax callbacks
#: Events are read again for this long: a transaction that took an id earlier but
#: committed later than its neighbours is still seen.
OVERLAP = timedelta(seconds=30)


def event_payload(event: Event, job: Job | None, fax: Inbound | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if job is not None:
        data["fax"] = public(job, JOB_FIELDS) | {"callback_url": (job.notify or {}).get("callback_url")}
    if fax is not None:
        data["inbound"] = public(fax, INBOUND_FIELDS)
    return {
        "id": f"evt_{event.id}",
        "type": TYPES[event.kind],
        "created": event.at.isoformat(),
        "message": event.message,
        "details": event.data or {},
        "data": data,
    }


class WebhookRelay:
    def __init__(self, store: Store, config: Config, poll_interval: float = 0.5) -> None:
        self.store = store
        self.config = config
        self.poll_interval = poll_interval
        self.cursor: int | None = None

    @property
    def wanted(self) -> bool:
        return bool(self.config.webhooks.subscriptions or self.config.webhooks.signing_secret_env)

    def _start_cursor(self) -> int:
        """Where a previous run stopped: the newest event that made a webhook notice, else now."""
        with self.store.reading() as session:
            origins = session.scalars(
                select(Outbox.origin).where(Outbox.channel == "webhook").order_by(Outbox.id.desc()).limit(1)
            ).first()
            if origins is not None:
                return int(origins.split(":")[1])
            return int(session.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0)

    def step(self) -> int:
        """Turn new events into notices; the number of notices written."""
        if self.cursor is None:
            self.cursor = self._start_cursor()
        since = utcnow() - OVERLAP
        with self.store.writing() as session:
            events = list(
                session.scalars(
                    select(Event)
                    .where(Event.kind.in_(list(TYPES)), (Event.id > self.cursor) | (Event.at >= since))
                    .order_by(Event.id)
                    .limit(500)
                )
            )
            notices: list[Notice] = []
            for event in events:
                job = session.get(Job, event.job_id) if event.job_id is not None else None
                fax = session.get(Inbound, event.inbound_id) if event.inbound_id is not None else None
                notices += self._notices(event, job, fax)
                self.cursor = max(self.cursor, event.id)
            made = set()
            if notices:
                made = set(
                    session.execute(
                        select(Outbox.origin, Outbox.target).where(
                            Outbox.channel == "webhook", Outbox.origin.in_({n.origin for n in notices})
                        )
                    ).all()
                )
            fresh = [n for n in notices if (n.origin, n.target) not in made]
            add_notices(session, fresh)  # a concurrent duplicate is ignored (unique origin, target)
        return len(fresh)

    def _notices(self, event: Event, job: Job | None, fax: Inbound | None) -> list[Notice]:
        kind = TYPES[event.kind]
        payload: dict[str, Any] | None = None
        out: list[Notice] = []
        callback = (job.notify or {}).get("callback_url") if job is not None else None
        if callback and self.config.webhooks.signing_secret_env:
            payload = event_payload(event, job, fax)
            out.append(
                Notice(f"event:{event.id}", "webhook", callback, {"event": payload, "secret": CALLBACK})
            )
        for index, subscription in enumerate(self.config.webhooks.subscriptions):
            if subscription.events and kind not in subscription.events:
                continue
            payload = payload or event_payload(event, job, fax)
            out.append(
                Notice(
                    f"event:{event.id}",
                    "webhook",
                    subscription.url,
                    {"event": payload, "secret": f"subscription:{index}"},
                )
            )
        return out

    def run(self, stop: threading.Event, wake: Any = None) -> None:
        while not stop.is_set():
            try:
                if self.step() and wake is not None:
                    wake()
            except Exception:  # the relay must outlive a bad moment of the store
                logger.exception("webhook relay error; continuing")
            stop.wait(self.poll_interval)
