"""Live status for open pages: the store's event log fanned out as server-sent events.

One poller per process reads new events (``EventLog.events(after_id=...)``) every
POLL_SECONDS while anyone listens, loads the jobs they concern in one query, and hands
each subscriber only the events of jobs it may see (a user: their own; an admin:
all).  So a status reaches an open page within about POLL_SECONDS plus a round trip,
however many pages are open, at the cost of one small query per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from umfax.store import Store
from umfax.store.console_inbox import Viewer
from umfax.store.models import Event, Job

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.1
HEARTBEAT_SECONDS = 15.0
QUEUE_LIMIT = 1000
#: How many ids back each read looks for events committed out of order.
LOOK_BACK = 64
SEEN_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class JobUpdate:
    """What an open page needs to show a job's new status."""

    event_id: int
    job_id: int
    owner: int | None
    kind: str
    message: str
    state: str
    status: str
    pages_done: int
    page_count: int
    tries: int

    def public(self) -> dict[str, Any]:
        return {
            "event": self.event_id,
            "job": self.job_id,
            "kind": self.kind,
            "message": self.message,
            "state": self.state,
            "status": self.status,
            "pages_done": self.pages_done,
            "page_count": self.page_count,
            "tries": self.tries,
        }


@dataclass(eq=False)
class Subscriber:
    viewer: Viewer
    job_id: int | None  # None: every job the viewer may see
    queue: asyncio.Queue[JobUpdate] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))

    def wants(self, update: JobUpdate) -> bool:
        if self.job_id is not None and update.job_id != self.job_id:
            return False
        return self.viewer.admin or update.owner == self.viewer.user_id


class LiveHub:
    """The shared poller and its subscribers (one per open page)."""

    def __init__(self, store: Store, poll_seconds: float = POLL_SECONDS) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._last_id: int | None = None
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._floor = 0  # the newest event when the poller started: older ones are history

    def _latest_id(self) -> int:
        with self.store.reading() as session:
            return int(session.scalar(select(func.max(Event.id))) or 0)

    def _read(self, after_id: int) -> tuple[int, list[JobUpdate]]:
        # Ids are handed out before commit: on PostgreSQL a transaction holding a lower
        # id may commit after a higher one was read.  So look back a little each time
        # and skip what was already sent.
        found = self.store.events(after_id=max(0, after_id - LOOK_BACK), limit=500)
        events = [e for e in found if e.id > self._floor and e.id not in self._seen]
        for event in events:
            self._seen[event.id] = None
        while len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)
        if not events:
            return max([after_id, *(e.id for e in found)]), []
        ids = {e.job_id for e in events if e.job_id is not None}
        jobs: dict[int, Job] = {}
        if ids:
            with self.store.reading() as session:
                jobs = {job.id: job for job in session.scalars(select(Job).where(Job.id.in_(ids)))}
        updates = [
            JobUpdate(
                event_id=e.id,
                job_id=job.id,
                owner=job.user_id,
                kind=e.kind,
                message=e.message,
                state=job.state,
                status=job.status,
                pages_done=job.pages_done,
                page_count=job.page_count,
                tries=job.tries,
            )
            for e in events
            if e.job_id is not None and (job := jobs.get(e.job_id)) is not None
        ]
        return max(after_id, events[-1].id), updates

    async def _run(self) -> None:
        try:
            if self._last_id is None:
                self._last_id = self._floor = await asyncio.to_thread(self._latest_id)
            last_id = self._last_id
            while self._subscribers:
                try:
                    last_id, updates = await asyncio.to_thread(self._read, last_id)
                    self._last_id = last_id
                except Exception:  # the store is away for a moment: keep the pages open
                    logger.warning("live status: reading the event log failed", exc_info=True)
                    updates = []
                for update in updates:
                    for subscriber in list(self._subscribers):
                        if subscriber.wants(update):
                            with contextlib.suppress(asyncio.QueueFull):
                                subscriber.queue.put_nowait(update)
                await asyncio.sleep(self.poll_seconds)
        finally:
            self._task = None
            self._last_id = None

    async def subscribe(self, viewer: Viewer, job_id: int | None = None) -> Subscriber:
        subscriber = Subscriber(viewer, job_id)
        if self._last_id is None:
            self._last_id = self._floor = await asyncio.to_thread(self._latest_id)
        self._subscribers.add(subscriber)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def listening(self) -> int:
        return len(self._subscribers)


async def stream(hub: LiveHub, subscriber: Subscriber) -> AsyncIterator[str]:
    """The text/event-stream of one subscriber: ``status`` events, heartbeats between."""
    try:
        yield "retry: 2000\n: connected\n\n"
        while True:
            try:
                update = await asyncio.wait_for(subscriber.queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            payload = json.dumps(update.public(), separators=(",", ":"))
            yield f"id: {update.event_id}\nevent: status\ndata: {payload}\n\n"
    finally:
        hub.unsubscribe(subscriber)
