"""The event log: what happened to jobs, received faxes and lines, in order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from umfax.store.base import StoreBase
from umfax.store.models import Event


class EventLog(StoreBase):
    """The event log, written with each change (:meth:`StoreBase._event`) and read here."""

    def log_event(self, kind: str, message: str = "", **kwargs: Any) -> None:
        with self.writing() as session:
            self._event(session, kind, message, **kwargs)

    def events(
        self,
        *,
        job_id: int | None = None,
        inbound_id: int | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[Event]:
        with self.reading() as session:
            query = select(Event).where(Event.id > after_id)
            if job_id is not None:
                query = query.where(Event.job_id == job_id)
            if inbound_id is not None:
                query = query.where(Event.inbound_id == inbound_id)
            return list(session.scalars(query.order_by(Event.id).limit(limit)))
