"""Connector state: a few strings per connector (a Graph delta link) kept across restarts."""

from __future__ import annotations

from sqlalchemy import delete

from umfax.store.models import ConnectorState, utcnow
from umfax.store.store import Store


class ConnectorStateStore:
    """``get``/``put``/``forget`` for one connector, named by its label."""

    def __init__(self, store: Store, connector: str) -> None:
        self.store = store
        self.connector = connector

    def get(self, key: str) -> str:
        """The value kept under ``key``, or "" when there is none."""
        with self.store.reading() as session:
            row = session.get(ConnectorState, (self.connector, key))
            return row.value if row is not None else ""

    def put(self, key: str, value: str) -> None:
        with self.store.writing() as session:
            row = session.get(ConnectorState, (self.connector, key))
            if row is None:
                row = ConnectorState(connector=self.connector, key=key, value=value, updated_at=utcnow())
                session.add(row)
            else:
                row.value = value
                row.updated_at = utcnow()

    def forget(self, key: str) -> None:
        with self.store.writing() as session:
            session.execute(
                delete(ConnectorState).where(
                    ConnectorState.connector == self.connector, ConnectorState.key == key
                )
            )
