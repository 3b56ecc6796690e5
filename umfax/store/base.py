"""What every part of the store shares: the engine, its read and write transactions
(every method of the store is one), and the writer of the event log, so that each state
change and its event commit together."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from umfax.errors import StoreError, describe_error
from umfax.lifecycle import DEFAULT_RULES, FailureCause, RetryRule
from umfax.store import statements as sql
from umfax.store.database import WRITE
from umfax.store.models import utcnow


class StoreBase:
    """Sessions, transactions and the event writer that every part of the store shares.
    Thread-safe: one session per call."""

    def __init__(
        self,
        engine: Engine,
        *,
        retry_rules: dict[FailureCause, RetryRule] | None = None,
    ) -> None:
        self.engine = engine
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write_engine = engine.execution_options(**{WRITE: True})
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        # SQLite has one writer at a time; threads of this process queue here, in order,
        # instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms.
        self._write_gate: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )
        self.retry_rules = dict(DEFAULT_RULES) | (retry_rules or {})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction, committed on success."""
        try:
            with self._write_gate, self._write.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"store write failed: {describe_error(exc)}") from exc

    @contextmanager
    def _writing_core(self) -> Iterator[Connection]:
        """A write transaction without the ORM: for the per-call hot path (claim,
        progress, finish), where the ORM's bookkeeping costs more than the SQL."""
        try:
            with self._write_gate, self._write_engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"store write failed: {describe_error(exc)}") from exc

    @contextmanager
    def reading(self) -> Iterator[Session]:
        try:
            with self._read() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"store read failed: {describe_error(exc)}") from exc

    def close(self) -> None:
        self.engine.dispose()

    @staticmethod
    def _event(
        session: Session | Connection,
        kind: str,
        message: str = "",
        *,
        job_id: int | None = None,
        inbound_id: int | None = None,
        line: str | None = None,
        at: datetime | None = None,
        **data: Any,
    ) -> None:
        """Append an event to ``session``'s transaction: it commits with the change it tells of."""
        session.execute(
            sql.INSERT_EVENT,
            {
                "kind": kind,
                "message": message,
                "job_id": job_id,
                "inbound_id": inbound_id,
                "line": line,
                "at": at or utcnow(),
                "data": data,
            },
        )
