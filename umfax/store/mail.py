"""Mail messages seen by the connectors: the record that makes intake idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from umfax.errors import StoreError
from umfax.store.models import MailMessage, utcnow
from umfax.store.outbox import Notice, add_notices
from umfax.store.specs import DocumentIn, JobSpec
from umfax.store.store import Store


@dataclass(frozen=True, slots=True)
class MailRecord:
    """What a message became, to be committed at once with its jobs and notices."""

    connector: str
    position: str | None  # connector|mailbox|UIDVALIDITY|UID, when the connector has one
    message_id: str  # "" when the message has none
    sender: str
    subject: str
    outcome: str  # queued, refused, invalid
    reason: str = ""
    replied: bool = False


class MailStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def seen(self, *, position: str | None, sender: str, message_id: str) -> MailMessage | None:
        """The record of this message if it was handled before: same mailbox position, or
        same Message-ID from the same sender."""
        conditions = []
        if position:
            conditions.append(MailMessage.position == position)
        if message_id:
            conditions.append((MailMessage.sender == sender) & (MailMessage.message_id == message_id))
        if not conditions:
            return None
        with self.store.reading() as session:
            return session.scalars(select(MailMessage).where(or_(*conditions)).limit(1)).first()

    def record(
        self,
        record: MailRecord,
        jobs: Sequence[tuple[JobSpec, Sequence[DocumentIn]]] = (),
        notices: Sequence[Notice] = (),
    ) -> tuple[MailMessage, bool]:
        """Commit the record, its jobs and notices in one transaction.  Returns the record
        and True, or, when a concurrent or earlier intake of the same message won, that
        record and False (nothing of ours committed)."""
        now = utcnow()
        try:
            with self.store.writing() as session:
                job_ids = [self.store.add_job(session, spec, docs, now).id for spec, docs in jobs]
                message = MailMessage(
                    connector=record.connector,
                    position=record.position,
                    message_id=record.message_id or None,
                    sender=record.sender,
                    subject=record.subject[:500],
                    received_at=now,
                    outcome=record.outcome,
                    reason=record.reason[:1000],
                    job_ids=job_ids,
                    replied=record.replied,
                )
                session.add(message)
                session.flush()
                self.store._event(
                    session,
                    f"mail_{record.outcome}",
                    record.reason or f"{len(job_ids)} job(s) from mail by {record.sender}",
                    at=now,
                    connector=record.connector,
                    mail=message.id,
                    sender=record.sender,
                    message_id=record.message_id,
                    jobs=job_ids,
                )
                add_notices(
                    session,
                    [
                        Notice(n.origin.replace("{mail}", str(message.id)), n.channel, n.target, n.payload)
                        for n in notices
                    ],
                    now,
                )
                return message, True
        except StoreError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
        existing = self.seen(position=record.position, sender=record.sender, message_id=record.message_id)
        if existing is None:
            raise StoreError("the mail record conflicted with another one that is now gone; try again")
        return existing, False

    def replies_since(self, sender: str, since: datetime) -> int:
        """Refusal replies queued to ``sender`` since ``since`` (for rate limiting)."""
        with self.store.reading() as session:
            return int(
                session.scalar(
                    select(func.count(MailMessage.id)).where(
                        func.lower(MailMessage.sender) == sender.lower(),
                        MailMessage.replied.is_(True),
                        MailMessage.received_at >= since,
                    )
                )
                or 0
            )
