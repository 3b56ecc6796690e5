"""From the event log to webhook and SMS notices.

The relay reads the store's events in id order and, for each event of a fax, writes one
outbox notice per receiver: webhooks to the fax's own ``callback_url`` and each matching
subscription; text messages to the sender's mobile when their fax failed (or, per user,
whenever it ended) and to each user a received fax or voice message is routed to.  A
notice's origin is ``event:<id>``, unique per receiver, so reading an event twice (after a
restart, or in the overlap window that catches transactions committed out of id order)
never makes a second notice: delivery is at least once, with a stable event id to
deduplicate on.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from umfax.config import Config, UserConfig
from umfax.lifecycle import JobState
from umfax.notifications import sms
from umfax.records import INBOUND_FIELDS, JOB_FIELDS, public
from umfax.store import Store
from umfax.store.models import Event, Inbound, Job, Outbox, utcnow
from umfax.store.outbox import Notice, add_notices
from umfax.twilio_shapes import fax_sid, twilio_status

logger = logging.getLogger(__name__)

#: A voice message was left (an inbound row of kind "voice"): its reception event (logged
#: as a fax's is, inbound_received or inbound_partial) becomes this type, with
#: ``data.voice`` (voice_message.schema.json).
VOICE_RECEIVED = "voice.received"
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
#: How often the overlap window is checked for such late events.
GAP_CHECK = timedelta(seconds=5)
#: Events read per step.
BATCH = 500


def event_type(event: Event, fax: Inbound | None) -> str:
    """The webhook event type of ``event``: a voice message's reception is voice.received."""
    kind = TYPES[event.kind]
    if kind == "fax.received" and fax is not None and fax.kind == "voice":
        return VOICE_RECEIVED
    return kind


def audio_path(inbound_id: int) -> str:
    return f"/api/v1/inbound/{inbound_id}/audio"


def voice_data(config: Config, fax: Inbound, seconds: float) -> dict[str, Any]:
    """``data.voice`` of a voice.received event (voice_message.schema.json)."""
    base = config.api.public_url.rstrip("/") or f"http://{config.api.listen}"
    return {
        "inbound_id": fax.id,
        "caller_number": fax.caller_number,
        "caller_name": fax.caller_name,
        "called_number": fax.called_number,
        "line": fax.line,
        "received_at": fax.started_at.isoformat(),
        "seconds": round(seconds, 1),
        "audio_path": audio_path(fax.id),
        "audio_url": base + audio_path(fax.id),
    }


def event_payload(
    event: Event, job: Job | None, fax: Inbound | None, voice: dict[str, Any] | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if job is not None:
        data["fax"] = public(job, JOB_FIELDS) | {"callback_url": (job.notify or {}).get("callback_url")}
    if fax is not None:
        data["inbound"] = public(fax, INBOUND_FIELDS)
    if voice is not None:
        data["voice"] = voice
    return {
        "id": f"evt_{event.id}",
        "type": event_type(event, fax),
        "created": event.at.isoformat(),
        "message": event.message,
        "details": event.data or {},
        "data": data,
    }


CHANNELS = ("webhook", "sms", "twilio_fax")
#: Twilio Fax called its StatusCallback when a fax was done.
TWILIO_FINAL = ("fax.sent", "fax.failed", "fax.cancelled")


class EventRelay:
    def __init__(self, store: Store, config: Config, poll_interval: float = 0.5) -> None:
        self.store = store
        self.config = config
        self.poll_interval = poll_interval
        self.cursor: int | None = None
        self._seen: dict[int, datetime] = {}  # ids read within OVERLAP, to find late commits
        self._next_gap_check = utcnow()

        self.users_by_email = {u.email.lower(): u for u in config.users}
        self.users_by_name = {u.name: u for u in config.users}

    @staticmethod
    def wanted(config: Config) -> bool:
        hooks = config.webhooks
        return bool(
            hooks.subscriptions or hooks.signing_secret_env or config.twilio is not None or config.api.enabled
        )

    def _start_cursor(self) -> int:
        """Where a previous run stopped: the newest event that made a notice, else now."""
        with self.store.reading() as session:
            origins = session.scalars(
                select(Outbox.origin)
                .where(Outbox.channel.in_(CHANNELS), Outbox.origin.startswith("event:"))
                .order_by(Outbox.id.desc())
                .limit(1)
            ).first()
            if origins is not None:
                return int(origins.split(":")[1])
            return int(session.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0)

    def step(self) -> int:
        """Turn new events into notices; the number of notices written."""
        if self.cursor is None:
            self.cursor = self._start_cursor()
        now = utcnow()
        with self.store.reading() as session:
            events = list(
                session.scalars(
                    select(Event)
                    .where(Event.kind.in_(list(TYPES)), Event.id > self.cursor)
                    .order_by(Event.id)
                    .limit(BATCH)
                )
            )
            if now >= self._next_gap_check:
                events += self._late(session, now)
            notices: list[Notice] = []
            for event in events:
                job = session.get(Job, event.job_id) if event.job_id is not None else None
                fax = session.get(Inbound, event.inbound_id) if event.inbound_id is not None else None
                notices += self._notices(event, job, fax)
                self.cursor = max(self.cursor, event.id)
                self._seen[event.id] = event.at
        if not notices:
            return 0
        with self.store.writing() as session:
            made = set(
                session.execute(
                    select(Outbox.origin, Outbox.channel, Outbox.target).where(
                        Outbox.channel.in_(CHANNELS), Outbox.origin.in_({n.origin for n in notices})
                    )
                ).all()
            )
            fresh = [n for n in notices if (n.origin, n.channel, n.target) not in made]
            add_notices(session, fresh)  # a concurrent duplicate is ignored (unique origin, target)
        return len(fresh)

    def _late(self, session: Any, now: datetime) -> list[Event]:
        """Events below the cursor not seen yet: committed after later ids were read."""
        since = now - OVERLAP
        self._next_gap_check = now + GAP_CHECK
        self._seen = {i: at for i, at in self._seen.items() if at >= since}
        ids = session.scalars(
            select(Event.id).where(Event.kind.in_(list(TYPES)), Event.id <= self.cursor, Event.at >= since)
        )
        missing = [i for i in ids if i not in self._seen]
        if not missing:
            return []
        return list(session.scalars(select(Event).where(Event.id.in_(missing)).order_by(Event.id)))

    def _notices(self, event: Event, job: Job | None, fax: Inbound | None) -> list[Notice]:
        voice = self._voice(event, fax)
        return (
            self._webhooks(event, job, fax, voice)
            + self._texts(event, job, fax, voice)
            + self._twilio_fax(event, job)
        )

    def _voice(self, event: Event, fax: Inbound | None) -> dict[str, Any] | None:
        """``data.voice`` when ``event`` is a voice message's reception, else None."""
        if fax is None or event_type(event, fax) != VOICE_RECEIVED:
            return None
        seconds = self.store.inbound_seconds([fax.id]).get(fax.id, 0.0)
        return voice_data(self.config, fax, seconds)

    @staticmethod
    def _twilio_fax(event: Event, job: Job | None) -> list[Notice]:
        twilio = (job.notify or {}).get("twilio", {}) if job is not None else {}
        if job is None or not twilio.get("status_callback") or TYPES[event.kind] not in TWILIO_FINAL:
            return []
        params = {
            "FaxSid": fax_sid(job.id),
            "AccountSid": twilio.get("account_sid", ""),
            "From": twilio.get("from", ""),
            "To": job.number,
            "FaxStatus": twilio_status(job),
            "ApiVersion": "v1",
            "NumPages": str(job.pages_done),
            "OriginalMediaUrl": twilio.get("media_url", ""),
        }
        if job.state == JobState.FAILED:
            params["ErrorMessage"] = job.status or (job.last_cause or "failed")
        return [
            Notice(
                f"event:{event.id}",
                "twilio_fax",
                twilio["status_callback"],
                {"job": job.id, "params": params},
            )
        ]

    def _texts(
        self, event: Event, job: Job | None, fax: Inbound | None, voice: dict[str, Any] | None
    ) -> list[Notice]:
        if self.config.twilio is None:
            return []
        kind = event_type(event, fax)
        origin = f"event:{event.id}"
        if job is not None and kind in ("fax.sent", "fax.failed"):
            user = self._owner(job)
            if user is None or not user.mobile or user.sms == "never":
                return []
            if kind == "fax.sent" and user.sms != "always":
                return []
            return [Notice(origin, "sms", user.mobile, {"body": sms.job_text(job), "job": job.id})]
        if fax is not None and kind in ("fax.received", VOICE_RECEIVED):
            out = []
            for name in (event.data or {}).get("users", []):
                user = self.users_by_name.get(name)
                if user is not None and user.mobile and user.sms != "never":
                    body = sms.voice_text(fax, voice["seconds"]) if voice else sms.inbound_text(fax)
                    out.append(Notice(origin, "sms", user.mobile, {"body": body, "inbound": fax.id}))
            return out
        return []

    def _owner(self, job: Job) -> UserConfig | None:
        return self.users_by_email.get((job.sender or "").lower())

    def _webhooks(
        self, event: Event, job: Job | None, fax: Inbound | None, voice: dict[str, Any] | None
    ) -> list[Notice]:
        kind = event_type(event, fax)
        payload: dict[str, Any] | None = None
        out: list[Notice] = []
        callback = (job.notify or {}).get("callback_url") if job is not None else None
        if callback and self.config.webhooks.signing_secret_env:
            payload = event_payload(event, job, fax, voice)
            out.append(
                Notice(f"event:{event.id}", "webhook", callback, {"event": payload, "secret": CALLBACK})
            )
        for index, subscription in enumerate(self.config.webhooks.subscriptions):
            if subscription.events and kind not in subscription.events:
                continue
            payload = payload or event_payload(event, job, fax, voice)
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
