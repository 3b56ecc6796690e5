"""Usage figures for the console's admin pages: pages sent and received per user and
month, per day, line busy time by hour of the day and per line today, failures by cause.

Each is one SQL statement with GROUP BY (the database does the counting, not Python);
the date parts differ by dialect (SQLite keeps UTC as text, PostgreSQL ``timestamptz``),
so :class:`UsageQueries` builds them per dialect.  Pages sent are the pages each call
transmitted (``attempts.pages_sent``: a page sent again after a cut call counts twice, as
on the phone bill); pages received are those stored per received fax, counted for every
user it was delivered to (the ``inbound`` notices in the outbox).  A line is busy from
the start of a call (dialling or answering) to its end.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, Integer, String, and_, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from umfax.store.models import Attempt, Inbound, Job, Outbox, User, utcnow
from umfax.store.store import Store

NO_USER = "(no user)"
#: Attempt results that are not failures of a call.
NOT_FAILURES = ("ok", "not_sent")


@dataclass(frozen=True, slots=True)
class MonthlyUsage:
    month: str  # YYYY-MM (UTC)
    user: str
    pages_sent: int = 0
    calls_sent: int = 0
    pages_received: int = 0
    faxes_received: int = 0


@dataclass(frozen=True, slots=True)
class DailyPages:
    day: str  # YYYY-MM-DD (UTC)
    sent: int
    received: int


class UsageQueries:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.postgres = store.dialect == "postgresql"

    # -- dialect helpers ---------------------------------------------------------

    def _text(self, column: Any, sqlite_format: str, pg_format: str) -> ColumnElement[str]:
        if self.postgres:
            return func.to_char(func.timezone("UTC", column), pg_format)
        return func.strftime(sqlite_format, column)

    def _month(self, column: Any) -> ColumnElement[str]:
        return self._text(column, "%Y-%m", "YYYY-MM")

    def _day(self, column: Any) -> ColumnElement[str]:
        return self._text(column, "%Y-%m-%d", "YYYY-MM-DD")

    def _hour(self, column: Any) -> ColumnElement[int]:
        return cast(self._text(column, "%H", "HH24"), Integer)

    def _seconds(self, start: Any, end: Any) -> ColumnElement[float]:
        if self.postgres:
            return cast(func.extract("epoch", end - start), Float)
        return (func.julianday(end) - func.julianday(start)) * 86400.0

    # -- per user and month ------------------------------------------------------

    def monthly(self, since: datetime, until: datetime | None = None) -> list[MonthlyUsage]:
        """Per month and user, months from ``since`` (inclusive) to ``until`` (exclusive)."""
        until = until or utcnow() + timedelta(days=1)
        sent_month = self._month(Attempt.ended_at)
        user_name = func.coalesce(User.name, NO_USER)
        sent = (
            select(sent_month, user_name, func.sum(Attempt.pages_sent), func.count(Attempt.id))
            .join(Job, Job.id == Attempt.job_id)
            .outerjoin(User, User.id == Job.user_id)
            .where(Attempt.ended_at >= since, Attempt.ended_at < until, Attempt.result != "not_sent")
            .group_by(sent_month, user_name)
        )
        received_month = self._month(Inbound.started_at)
        origin = literal("inbound:") + cast(Inbound.id, String)
        received = (
            select(received_month, Outbox.target, func.sum(Inbound.pages), func.count(Inbound.id))
            .join(Outbox, and_(Outbox.origin == origin, Outbox.channel == "inbound"))
            .where(Inbound.started_at >= since, Inbound.started_at < until)
            .group_by(received_month, Outbox.target)
        )
        figures: dict[tuple[str, str], list[int]] = {}
        with self.store.reading() as session:
            for month, user, pages, calls in session.execute(sent):
                figures.setdefault((month, user), [0, 0, 0, 0])[0:2] = [int(pages or 0), int(calls)]
            for month, user, pages, faxes in session.execute(received):
                figures.setdefault((month, user), [0, 0, 0, 0])[2:4] = [int(pages or 0), int(faxes)]
        return [MonthlyUsage(month, user, *values) for (month, user), values in sorted(figures.items())]

    # -- per day -----------------------------------------------------------------

    def daily_pages(self, days: int = 30, now: datetime | None = None) -> list[DailyPages]:
        """Pages sent and received on each of the last ``days`` days (UTC), oldest first,
        days without pages included."""
        now = now or utcnow()
        first = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
        sent_day = self._day(Attempt.ended_at)
        received_day = self._day(Inbound.started_at)
        with self.store.reading() as session:
            sent = dict(
                session.execute(
                    select(sent_day, func.sum(Attempt.pages_sent))
                    .where(Attempt.ended_at >= first)
                    .group_by(sent_day)
                ).all()
            )
            received = dict(
                session.execute(
                    select(received_day, func.sum(Inbound.pages))
                    .where(Inbound.started_at >= first)
                    .group_by(received_day)
                ).all()
            )
        labels = [(first + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(days)]
        return [DailyPages(d, int(sent.get(d) or 0), int(received.get(d) or 0)) for d in labels]

    # -- lines -------------------------------------------------------------------

    def busy_by_hour(self, days: int = 30, now: datetime | None = None) -> list[float]:
        """Seconds lines were busy, by hour of the day (UTC, 0-23) a call started in, over
        the last ``days`` days (calls sent and received)."""
        since = (now or utcnow()) - timedelta(days=days)
        totals = [0.0] * 24
        out_hour = self._hour(Attempt.started_at)
        in_hour = self._hour(Inbound.started_at)
        with self.store.reading() as session:
            rows = list(
                session.execute(
                    select(out_hour, func.sum(self._seconds(Attempt.started_at, Attempt.ended_at)))
                    .where(Attempt.started_at >= since, Attempt.ended_at.is_not(None))
                    .group_by(out_hour)
                )
            )
            rows += list(
                session.execute(
                    select(in_hour, func.sum(self._seconds(Inbound.started_at, Inbound.ended_at)))
                    .where(Inbound.started_at >= since, Inbound.ended_at.is_not(None))
                    .group_by(in_hour)
                )
            )
        for hour, seconds in rows:
            totals[int(hour)] += max(0.0, float(seconds or 0.0))
        return totals

    def busy_today(self, now: datetime | None = None) -> dict[str, float]:
        """Seconds each line has been busy since midnight (UTC), ended calls only."""
        now = now or utcnow()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        busy: dict[str, float] = {}
        with self.store.reading() as session:
            for line, seconds in session.execute(
                select(Attempt.line, func.sum(self._seconds(Attempt.started_at, Attempt.ended_at)))
                .where(Attempt.started_at >= midnight, Attempt.ended_at.is_not(None))
                .group_by(Attempt.line)
            ):
                busy[line] = busy.get(line, 0.0) + max(0.0, float(seconds or 0.0))
            for line, seconds in session.execute(
                select(Inbound.line, func.sum(self._seconds(Inbound.started_at, Inbound.ended_at)))
                .where(Inbound.started_at >= midnight, Inbound.ended_at.is_not(None))
                .group_by(Inbound.line)
            ):
                busy[line] = busy.get(line, 0.0) + max(0.0, float(seconds or 0.0))
        return busy

    # -- failures ----------------------------------------------------------------

    def failures_by_cause(self, days: int = 30, now: datetime | None = None) -> list[tuple[str, int]]:
        """Failed calls by cause over the last ``days`` days, most frequent first."""
        since = (now or utcnow()) - timedelta(days=days)
        count = func.count(Attempt.id)
        query = (
            select(Attempt.result, count)
            .where(
                Attempt.ended_at >= since,
                Attempt.result.is_not(None),
                Attempt.result.not_in(NOT_FAILURES),
            )
            .group_by(Attempt.result)
            .order_by(count.desc(), Attempt.result)
        )
        with self.store.reading() as session:
            return [(str(cause), int(n)) for cause, n in session.execute(query)]


def usage_csv(rows: list[MonthlyUsage]) -> str:
    """The monthly figures as CSV (a header line, then one line per month and user)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["month", "user", "pages_sent", "calls_sent", "pages_received", "faxes_received"])
    for row in rows:
        writer.writerow(
            [row.month, row.user, row.pages_sent, row.calls_sent, row.pages_received, row.faxes_received]
        )
    return out.getvalue()
