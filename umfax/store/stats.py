"""Counts for /metrics and /healthz, by aggregate queries (no row is loaded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from umfax.errors import StoreError, describe_error
from umfax.lifecycle import JobState
from umfax.store.models import Attempt, Inbound, Job, LineReport, Outbox, utcnow
from umfax.store.store import Store

#: The window over which line utilisation is measured.
UTILISATION_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class StoreStats:
    jobs_by_state: dict[str, int] = field(default_factory=dict)
    pages_sent: int = 0
    pages_received: int = 0
    faxes_received: int = 0
    calls_by_result: dict[str, int] = field(default_factory=dict)
    failures_by_cause: dict[str, int] = field(default_factory=dict)  # jobs that failed, by last cause
    line_busy_seconds: dict[str, float] = field(default_factory=dict)  # within UTILISATION_WINDOW
    lines: dict[str, str] = field(default_factory=dict)  # line -> state
    outbox_by_state: dict[str, int] = field(default_factory=dict)


def ping(store: Store) -> None:
    """Raise StoreError unless the store answers."""
    try:
        with store.reading() as session:
            session.execute(text("SELECT 1"))
    except StoreError:
        raise
    except Exception as exc:  # a driver error outside SQLAlchemy's wrapping
        raise StoreError(f"store unreachable: {describe_error(exc)}") from exc


def collect(store: Store, now: datetime | None = None) -> StoreStats:
    now = now or utcnow()
    since = now - UTILISATION_WINDOW
    with store.reading() as session:
        jobs = dict(session.execute(select(Job.state, func.count()).group_by(Job.state)).all())
        sent = session.execute(select(func.coalesce(func.sum(Attempt.pages_sent), 0))).scalar_one()
        received, faxes = session.execute(
            select(func.coalesce(func.sum(Inbound.pages), 0), func.count(Inbound.id))
        ).one()
        calls = dict(
            session.execute(
                select(Attempt.result, func.count())
                .where(Attempt.result.is_not(None))
                .group_by(Attempt.result)
            ).all()
        )
        failures = dict(
            session.execute(
                select(Job.last_cause, func.count())
                .where(Job.state == JobState.FAILED, Job.last_cause.is_not(None))
                .group_by(Job.last_cause)
            ).all()
        )
        busy: dict[str, float] = {}
        recent = session.execute(
            select(Attempt.line, Attempt.started_at, Attempt.ended_at).where(
                (Attempt.ended_at.is_(None)) | (Attempt.ended_at >= since)
            )
        )
        for line, started, ended in recent:
            start = max(started, since)
            end = min(ended or now, now)
            if end > start:
                busy[line] = busy.get(line, 0.0) + (end - start).total_seconds()
        for line, started, ended in session.execute(
            select(Inbound.line, Inbound.started_at, Inbound.ended_at).where(
                (Inbound.ended_at.is_(None)) | (Inbound.ended_at >= since)
            )
        ):
            start = max(started, since)
            end = min(ended or now, now)
            if end > start:
                busy[line] = busy.get(line, 0.0) + (end - start).total_seconds()
        lines = dict(session.execute(select(LineReport.name, LineReport.state)).all())
        outbox = dict(session.execute(select(Outbox.state, func.count()).group_by(Outbox.state)).all())
    return StoreStats(
        jobs_by_state={str(k): int(v) for k, v in jobs.items()},
        pages_sent=int(sent),
        pages_received=int(received),
        faxes_received=int(faxes),
        calls_by_result={str(k): int(v) for k, v in calls.items()},
        failures_by_cause={str(k): int(v) for k, v in failures.items()},
        line_busy_seconds=busy,
        lines={str(k): str(v) for k, v in lines.items()},
        outbox_by_state={str(k): int(v) for k, v in outbox.items()},
    )
