"""The web console's tables: sign-in accounts and sessions, the audit log, address books,
what people did with received faxes, and routing edited in the console.

Kept beside :mod:`umfax.store.models` (same ``Base``); migration 0009 creates them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from umfax.store.models import Base, utcnow


class Account(Base):
    """A user's console sign-in: one row per users row that may sign in.  ``origin``:
    "config" for [[users]] (the config decides their role), "console" for people added in
    the console or by ``umfax user add``."""

    __tablename__ = "accounts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    origin: Mapped[str] = mapped_column(String(8), default="console")
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # Argon2id (argon2-cffi)
    totp_secret: Mapped[str | None] = mapped_column(String(200))  # sealed when a sealing key is set
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_signins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    last_signin_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A signed-in browser.  ``id`` is the SHA-256 of the cookie's secret: a copy of the
    table signs no one in."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    second_factor_done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class SetupToken(Base):
    """The one-time link that creates the first administrator (digest only)."""

    __tablename__ = "setup_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class AuditEntry(Base):
    """Who did what to which record: sign-ins, views, downloads, forwards, deletions, changes."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_object", "object_kind", "object_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(320), default="")  # email, "cli", "system"
    action: Mapped[str] = mapped_column(String(32))  # signin, signin_failed, view, download, ...
    object_kind: Mapped[str] = mapped_column(String(16), default="")  # job, inbound, user, route, ...
    object_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(String(500), default="")
    address: Mapped[str] = mapped_column(String(64), default="")


class Contact(Base):
    """An address-book entry, owned by one user."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200), default="")
    fax_number: Mapped[str] = mapped_column(String(32))  # E.164
    email: Mapped[str] = mapped_column(String(320), default="")
    note: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactGroup(Base):
    __tablename__ = "contact_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))


class ContactGroupMember(Base):
    __tablename__ = "contact_group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("contact_groups.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)


class InboundNote(Base):
    """What everyone a received fax (or voice message) reaches shares: a note (tags are in
    ``inbound_tags``), and an administrator's delete for everyone (``deleted_at``: out of
    every inbox, kept for retention and the audit log).  Read marks and a person's own
    removal are per person: :class:`InboundMark`."""

    __tablename__ = "inbound_notes"

    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound.id", ondelete="CASCADE"), primary_key=True)
    note: Mapped[str] = mapped_column(Text, default="")
    deleted_at: Mapped[datetime | None] = mapped_column()


class InboundMark(Base):
    """One person's marks on a received item: when they read it, and when they removed it
    from their own inbox (others who receive it keep it)."""

    __tablename__ = "inbound_marks"

    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime | None] = mapped_column()
    removed_at: Mapped[datetime | None] = mapped_column()


class InboundTag(Base):
    __tablename__ = "inbound_tags"

    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class ConsoleRoute(Base):
    """An inbound route edited in the console; tried in ``position`` order before the
    configured [routing] routes (same fields as [[routing.routes]])."""

    __tablename__ = "console_routes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    line: Mapped[str] = mapped_column(String(64), default="")
    called: Mapped[str] = mapped_column(String(64), default="")
    caller: Mapped[str] = mapped_column(String(64), default="")
    csi: Mapped[str] = mapped_column(String(100), default="")
    users: Mapped[str] = mapped_column(String(1000), default="")  # user names, comma-separated
    voice: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsoleJunk(Base):
    """A junk-list entry added in the console, beside [routing.junk]."""

    __tablename__ = "console_junk"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    field: Mapped[str] = mapped_column(String(8))  # caller or csi
    pattern: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
