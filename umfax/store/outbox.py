"""The outbox: notifications decided in a transaction, delivered at least once afterwards.

A producer adds a row in the same transaction as the change it reports (a job's end,
a received fax, a refused message), so a crash can neither lose the notification nor
leave one for a change that never committed.  The dispatcher claims due rows with a
lease, delivers them, and marks them done, or schedules a retry, or gives up (``dead``)
after its last try.  ``(origin, channel, target)`` is unique: adding the same one twice
is a no-op, and the row id is a stable identity for the receiving side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from umfax.states import OutboxState
from umfax.store.models import Outbox, utcnow

if TYPE_CHECKING:
    from umfax.store.store import Store

OUTBOX = cast(Table, Outbox.__table__)


@dataclass(frozen=True, slots=True)
class Notice:
    origin: str  # what caused it: "job:12:sent", "inbound:7", "mail:31:refused"
    channel: str  # report, inbound, smtp, webhook, sms, twilio_fax (notice.schema.json)
    target: str  # user name, address, URL
    payload: dict[str, Any]


def add_notices(
    session: Session | Connection, notices: Sequence[Notice], now: datetime | None = None
) -> None:
    """Add ``notices`` to the transaction of ``session``; duplicates are ignored."""
    if not notices:
        return
    dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    at = now or utcnow()
    rows = [
        {
            "origin": n.origin,
            "channel": n.channel,
            "target": n.target,
            "payload": n.payload,
            "state": OutboxState.PENDING.value,
            "tries": 0,
            "next_at": at,
            "last_error": "",
            "created_at": at,
        }
        for n in notices
    ]
    session.execute(insert(OUTBOX).on_conflict_do_nothing(), rows)


class OutboxStore:
    """Claiming and settling outbox rows."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, notices: Sequence[Notice]) -> None:
        with self.store.writing() as session:
            add_notices(session, notices)

    def claim(self, worker: str, lease: float, limit: int = 20, channels: Sequence[str] = ()) -> list[Outbox]:
        """Take up to ``limit`` due rows (pending and due, or whose claimant's lease ran out)."""
        now = utcnow()
        due = and_(
            OUTBOX.c.state == OutboxState.PENDING,
            OUTBOX.c.next_at <= now,
            or_(OUTBOX.c.lease_until.is_(None), OUTBOX.c.lease_until < now),
        )
        if channels:
            due = and_(due, OUTBOX.c.channel.in_(list(channels)))
        with self.store.writing() as session:
            ids = list(
                session.scalars(
                    select(OUTBOX.c.id)
                    .where(due)
                    .order_by(OUTBOX.c.next_at, OUTBOX.c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return []
            session.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id.in_(ids))
                .values(
                    claimed_by=worker, lease_until=now + timedelta(seconds=lease), tries=OUTBOX.c.tries + 1
                )
            )
            rows = session.execute(select(OUTBOX).where(OUTBOX.c.id.in_(ids)).order_by(OUTBOX.c.id))
            return [Outbox(**row._mapping) for row in rows]

    def done(self, item_id: int, worker: str) -> None:
        now = utcnow()
        with self.store.writing() as session:
            session.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id == item_id, OUTBOX.c.claimed_by == worker)
                .values(
                    state=OutboxState.DONE.value,
                    done_at=now,
                    claimed_by=None,
                    lease_until=None,
                    last_error="",
                )
            )

    def failed(self, item_id: int, worker: str, error: str, retry_at: datetime | None) -> None:
        """A delivery failed: try again at ``retry_at``, or give up (dead) when None."""
        values: dict[str, Any] = {"claimed_by": None, "lease_until": None, "last_error": error[:1000]}
        if retry_at is None:
            values |= {"state": OutboxState.DEAD.value, "done_at": utcnow()}
        else:
            values["next_at"] = retry_at
        with self.store.writing() as session:
            session.execute(
                update(OUTBOX).where(OUTBOX.c.id == item_id, OUTBOX.c.claimed_by == worker).values(values)
            )

    def items(
        self, *, state: OutboxState | str | None = None, origin_prefix: str | None = None
    ) -> list[Outbox]:
        with self.store.reading() as session:
            query = select(Outbox).order_by(Outbox.id)
            if state:
                query = query.where(Outbox.state == state)
            if origin_prefix:
                query = query.where(Outbox.origin.startswith(origin_prefix, autoescape=True))
            return list(session.scalars(query))

    def next_due(self) -> datetime | None:
        with self.store.reading() as session:
            return session.scalar(
                select(OUTBOX.c.next_at)
                .where(OUTBOX.c.state == OutboxState.PENDING)
                .order_by(OUTBOX.c.next_at)
                .limit(1)
            )

    def requeue(self, item_id: int) -> Outbox:
        """Try a dead (or done) notice again now."""
        with self.store.writing() as session:
            item = session.get(Outbox, item_id, with_for_update=True)
            if item is None:
                from umfax.errors import NotFound

                raise NotFound(f"there is no notice {item_id}; `umfax outbox` lists them")
            item.state, item.next_at, item.done_at = OutboxState.PENDING.value, utcnow(), None
            item.claimed_by = item.lease_until = None
            return item
