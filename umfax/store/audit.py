"""The audit log: who signed in, viewed, downloaded, forwarded, deleted or changed what."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from umfax.store.console_models import AuditEntry
from umfax.store.store import Store

#: The actions recorded.  Reads of a fax count (HIPAA-style access logs need them).
ACTIONS = (
    "signin",
    "signin_failed",
    "signout",
    "setup",
    "view",
    "download",
    "forward",
    "assign",
    "delete",
    "send",
    "cancel",
    "retry",
    "change",
)


@dataclass(frozen=True, slots=True)
class Audited:
    """One thing to record; ``user_id`` None for the CLI or the system."""

    action: str
    actor: str
    user_id: int | None = None
    object_kind: str = ""
    object_id: int | None = None
    detail: str = ""
    address: str = ""


class AuditLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, entry: Audited) -> None:
        if entry.action not in ACTIONS:
            raise ValueError(f"unknown audit action {entry.action!r}")
        with self.store.writing() as session:
            session.add(
                AuditEntry(
                    action=entry.action,
                    actor=entry.actor[:320],
                    user_id=entry.user_id,
                    object_kind=entry.object_kind,
                    object_id=entry.object_id,
                    detail=entry.detail[:500],
                    address=entry.address[:64],
                )
            )

    def entries(
        self,
        *,
        before_id: int | None = None,
        user_id: int | None = None,
        action: str = "",
        object_kind: str = "",
        object_id: int | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[AuditEntry]:
        """Newest first; page with ``before_id`` (the last id of the previous page)."""
        query = select(AuditEntry)
        if before_id is not None:
            query = query.where(AuditEntry.id < before_id)
        if user_id is not None:
            query = query.where(AuditEntry.user_id == user_id)
        if action:
            query = query.where(AuditEntry.action == action)
        if object_kind:
            query = query.where(AuditEntry.object_kind == object_kind)
        if object_id is not None:
            query = query.where(AuditEntry.object_id == object_id)
        if since is not None:
            query = query.where(AuditEntry.at >= since)
        with self.store.reading() as session:
            return list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))
