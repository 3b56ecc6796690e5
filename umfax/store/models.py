"""The store's tables.  Changes go through an Alembic migration in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from umfax.states import OutboxState

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    fax_number: Mapped[str | None] = mapped_column(String(32))  # E.164 DID routed to this user
    api_key_hash: Mapped[str | None] = mapped_column(String(200))
    can_send: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_number_state", "number", "state"),
        UniqueConstraint("source", "source_ref", name="uq_jobs_source_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # a umfax.lifecycle.JobState
    priority: Mapped[int] = mapped_column(Integer, default=0)
    number: Mapped[str] = mapped_column(String(32))  # E.164
    number_as_given: Mapped[str] = mapped_column(String(100), default="")
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    recipient_company: Mapped[str] = mapped_column(String(200), default="")
    sender: Mapped[str] = mapped_column(String(320), default="")  # who asked: user or address
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(String(500), default="")
    comments: Mapped[str] = mapped_column(Text, default="")
    cover: Mapped[bool] = mapped_column(Boolean, default=True)
    # the cover page template's name (umfax.conversion.cover_templates); "": the configured one
    cover_template: Mapped[str] = mapped_column(String(64), default="", server_default="")
    resolution: Mapped[str] = mapped_column(String(16), default="fine")
    paper: Mapped[str] = mapped_column(String(16), default="letter")
    source: Mapped[str] = mapped_column(String(32), default="cli")  # cli, api, imap, smtp, ...
    source_ref: Mapped[str | None] = mapped_column(String(500))  # e.g. Message-ID: dedup key
    notify: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    kill_at: Mapped[datetime | None] = mapped_column()
    max_tries: Mapped[int] = mapped_column(Integer, default=3)
    max_dials: Mapped[int] = mapped_column(Integer, default=12)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    dials: Mapped[int] = mapped_column(Integer, default=0)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    pages_done: Mapped[int] = mapped_column(Integer, default=0)  # confirmed by the far end
    status: Mapped[str] = mapped_column(String(500), default="")  # what is happening, for people
    last_cause: Mapped[str | None] = mapped_column(String(32))
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column()
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_at: Mapped[datetime | None] = mapped_column()

    documents: Mapped[list[Document]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="Document.seq"
    )


# In the claim's own order, so that claiming reads one index entry instead of sorting
# the whole queue.
Index("ix_jobs_claim", Job.state, Job.priority.desc(), Job.not_before, Job.id)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("job_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(200), default="")
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)

    job: Mapped[Job] = relationship(back_populates="documents")


class Page(Base):
    """A rendered page of an outbound job: a single-page TIFF Class F."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("job_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # 1-based
    width: Mapped[int] = mapped_column(Integer)
    length: Mapped[int] = mapped_column(Integer)
    x_res: Mapped[float] = mapped_column(Float)
    y_res: Mapped[float] = mapped_column(Float)
    encoding: Mapped[str] = mapped_column(String(8))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Attempt(Base):
    """One call for a job."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    line: Mapped[str] = mapped_column(String(64))
    worker: Mapped[str] = mapped_column(String(200))
    dialled: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    connected_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    remote_id: Mapped[str] = mapped_column(String(100), default="")
    bit_rate: Mapped[int] = mapped_column(Integer, default=0)
    encoding: Mapped[str] = mapped_column(String(8), default="")
    ecm: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution: Mapped[str] = mapped_column(String(16), default="")
    pages_sent: Mapped[int] = mapped_column(Integer, default=0)
    pages_total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str | None] = mapped_column(String(32))  # ok or a FailureCause; None while live
    message: Mapped[str] = mapped_column(String(1000), default="")
    transport: Mapped[str] = mapped_column(String(8), default="", server_default="")  # SIP: t38, g711


class Inbound(Base):
    """A received fax (or a call that tried to deliver one), or a voice message (kind
    "voice", its audio in :class:`InboundAudio`)."""

    __tablename__ = "inbound"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # a umfax.states.InboundState
    line: Mapped[str] = mapped_column(String(64))
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    caller_name: Mapped[str] = mapped_column(String(200), default="")
    called_number: Mapped[str] = mapped_column(String(64), default="")  # DID
    remote_id: Mapped[str] = mapped_column(String(100), default="")  # TSI
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    pages: Mapped[int] = mapped_column(Integer, default=0)
    bit_rate: Mapped[int] = mapped_column(Integer, default=0)
    encoding: Mapped[str] = mapped_column(String(8), default="")
    ecm: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(1000), default="")
    transport: Mapped[str] = mapped_column(String(8), default="", server_default="")  # SIP: t38, g711
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    delivered_at: Mapped[datetime | None] = mapped_column()
    kind: Mapped[str] = mapped_column(String(8), default="fax", server_default="fax")  # fax, voice


class InboundAudio(Base):
    """A voice message's audio: a WAV file (16-bit, 8 kHz, mono), deleted with its row."""

    __tablename__ = "inbound_audio"

    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound.id", ondelete="CASCADE"), primary_key=True)
    wav: Mapped[bytes] = mapped_column(LargeBinary)
    seconds: Mapped[float] = mapped_column(Float)


class InboundPage(Base):
    __tablename__ = "inbound_pages"
    __table_args__ = (UniqueConstraint("inbound_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    length: Mapped[int] = mapped_column(Integer)
    x_res: Mapped[float] = mapped_column(Float)
    y_res: Mapped[float] = mapped_column(Float)
    encoding: Mapped[str] = mapped_column(String(8))
    good: Mapped[bool] = mapped_column(Boolean, default=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


# The console's lists: a user's faxes and received faxes newest first, and everyone's.
Index("ix_jobs_user_created", Job.user_id, Job.created_at)
Index("ix_inbound_user_started", Inbound.user_id, Inbound.started_at)
Index("ix_inbound_started", Inbound.started_at)
Index("ix_inbound_caller_started", Inbound.caller_number, Inbound.started_at)  # inbox search


class Event(Base):
    """Append-only log of what happened to jobs, faxes and lines."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(48))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound.id", ondelete="SET NULL"), index=True)
    line: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(2000), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class LineReport(Base):
    """What each line's worker last reported (its state and detail), written by the server,
    read by the CLI and the API."""

    __tablename__ = "line_states"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    node: Mapped[str] = mapped_column(String(200))
    port: Mapped[str] = mapped_column(String(500))
    number: Mapped[str] = mapped_column(String(32), default="")
    state: Mapped[str] = mapped_column(String(16))  # a umfax.states.LineState
    detail: Mapped[str] = mapped_column(String(500), default="")
    job_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # A SIP trunk channel's registration as of its last probe ("registered with ..." or why
    # not); empty for modem lines.
    registration: Mapped[str] = mapped_column(String(200), default="", server_default="")


class MailMessage(Base):
    """A mail message a connector handed over, and what became of it.  Committed with the
    message's jobs, so that a message seen again (after a crash between commit and flag,
    or an MTA's retry) is recognised instead of faxed twice."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        UniqueConstraint("position", name="uq_mail_messages_position"),
        UniqueConstraint("sender", "message_id", name="uq_mail_messages_sender_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector: Mapped[str] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(700))  # connector|mailbox|UIDVALIDITY|UID
    message_id: Mapped[str | None] = mapped_column(String(500))  # None when the message has none
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16))  # queued, refused, invalid
    reason: Mapped[str] = mapped_column(String(1000), default="")
    job_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    replied: Mapped[bool] = mapped_column(Boolean, default=False)  # a refusal reply was queued


class Outbox(Base):
    """Something to tell someone (a report, a received fax, a refusal, a webhook): written
    in the transaction that decided it, delivered at least once by the dispatcher, with a
    stable id the receiving side can deduplicate on."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("origin", "channel", "target", name="uq_outbox_origin"),
        Index("ix_outbox_due", "state", "next_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    origin: Mapped[str] = mapped_column(String(200))  # what caused it, e.g. "job:12:sent", "inbound:7"
    channel: Mapped[str] = mapped_column(String(32))  # report, inbound, smtp, webhook, sms, twilio_fax
    target: Mapped[str] = mapped_column(String(500))  # user name, address, URL
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING.value)  # an OutboxState
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()


class ApiKey(Base):
    """A key for the REST API.  Only a digest of the secret part is kept: the key is shown
    once, when it is created.  ``prefix`` (random, public) finds the row."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("prefix", name="uq_api_keys_prefix"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_name: Mapped[str] = mapped_column(String(100), index=True)  # a [[users]] name
    prefix: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the secret, hex
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class ConnectorState(Base):
    """Where a connector got to (a Graph delta link, say), so that a restart picks up from
    there.  Only a shortcut: losing it makes the connector look again from the start."""

    __tablename__ = "connector_state"

    connector: Mapped[str] = mapped_column(String(200), primary_key=True)  # the connector's label
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
