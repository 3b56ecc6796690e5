"""Usage figures, counted in SQL on each backend: per user and month, per day, line busy
time by hour and today, failures by cause, and the CSV export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from umfax.store import Store
from umfax.store.models import Attempt, Inbound, Job, Outbox
from umfax.store.usage import MonthlyUsage, UsageQueries, usage_csv

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def call(job_id: int, line: str, start: datetime, seconds: int, pages: int, result: str) -> Attempt:
    return Attempt(
        job_id=job_id,
        line=line,
        worker="w",
        started_at=start,
        connected_at=start + timedelta(seconds=5),
        ended_at=start + timedelta(seconds=seconds),
        pages_sent=pages,
        result=result,
    )


def received(line: str, start: datetime, seconds: int, pages: int) -> Inbound:
    return Inbound(
        state="received",
        line=line,
        started_at=start,
        ended_at=start + timedelta(seconds=seconds),
        pages=pages,
        result="ok",
    )


def fill(store: Store) -> None:
    ann = store.add_user("ann", email="ann@example.com")
    bob = store.add_user("bob", email="bob@example.com")
    with store.writing() as session:
        jobs = [
            Job(state="sent", number="+12125550100", user_id=ann.id),
            Job(state="failed", number="+12125550101", user_id=bob.id),
            Job(state="sent", number="+12125550102", user_id=None),
        ]
        session.add_all(jobs)
        session.flush()
        a, b, c = (job.id for job in jobs)
        feb = datetime(2026, 2, 20, 9, 30, tzinfo=UTC)
        session.add_all(
            [
                call(a, "modem1", NOW - timedelta(hours=2), 120, 3, "ok"),  # 10:00 today
                call(a, "modem1", NOW - timedelta(hours=1, minutes=30), 60, 1, "line_dropped"),
                call(a, "modem2", feb, 100, 2, "ok"),
                call(b, "modem2", NOW - timedelta(days=1), 30, 0, "busy"),
                call(b, "modem2", NOW - timedelta(days=1, hours=1), 30, 0, "busy"),
                call(b, "modem1", NOW - timedelta(hours=3), 0, 0, "not_sent"),
                call(c, "modem1", NOW - timedelta(days=2), 90, 4, "ok"),
            ]
        )
        faxes = [
            received("modem1", NOW - timedelta(hours=2, minutes=30), 200, 5),
            received("modem2", feb, 50, 2),
        ]
        session.add_all(faxes)
        session.flush()
        session.add_all(
            [
                Outbox(origin=f"inbound:{faxes[0].id}", channel="inbound", target="ann"),
                Outbox(origin=f"inbound:{faxes[1].id}", channel="inbound", target="ann"),
                Outbox(origin=f"inbound:{faxes[1].id}", channel="inbound", target="bob"),
                Outbox(origin=f"job:{a}:sent", channel="report", target="ann@example.com"),
            ]
        )


def test_usage_is_counted_per_user_month_day_hour_line_and_cause(store: Store) -> None:
    fill(store)
    usage = UsageQueries(store)
    monthly = usage.monthly(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    assert monthly == [
        MonthlyUsage("2026-02", "ann", pages_sent=2, calls_sent=1, pages_received=2, faxes_received=1),
        MonthlyUsage("2026-02", "bob", pages_received=2, faxes_received=1),
        MonthlyUsage("2026-03", "(no user)", pages_sent=4, calls_sent=1),
        MonthlyUsage("2026-03", "ann", pages_sent=4, calls_sent=2, pages_received=5, faxes_received=1),
        MonthlyUsage("2026-03", "bob", pages_sent=0, calls_sent=2),
    ]
    csv = usage_csv(monthly).splitlines()
    assert csv[0] == "month,user,pages_sent,calls_sent,pages_received,faxes_received"
    assert csv[4] == "2026-03,ann,4,2,5,1"

    daily = usage.daily_pages(days=30, now=NOW)
    assert len(daily) == 30 and daily[-1].day == "2026-03-15" and daily[0].day == "2026-02-14"
    assert (daily[-1].sent, daily[-1].received) == (4, 5)
    assert (daily[-3].day, daily[-3].sent) == ("2026-03-13", 4)
    feb20 = next(d for d in daily if d.day == "2026-02-20")
    assert (feb20.sent, feb20.received) == (2, 2)

    hours = usage.busy_by_hour(days=30, now=NOW)
    assert round(hours[10]) == 120 + 60  # sent calls at 10:00 and 10:30 today
    assert (round(hours[11]), round(hours[12]), round(hours[13])) == (30, 30 + 90, 0)  # busy ones, one ok
    assert (
        round(hours[9]) == 200 + 100 + 50 + 0
    )  # received 09:30, sent and received on Feb 20 09:30, not_sent
    busy = usage.busy_today(now=NOW)
    assert {line: round(s) for line, s in busy.items()} == {"modem1": 120 + 60 + 0 + 200}

    assert usage.failures_by_cause(days=30, now=NOW) == [("busy", 2), ("line_dropped", 1)]
