"""Fill a store with many sent and received faxes, fast, for the console's bench and tests.

Pages are real coded pages (made once by the conversion pipeline, then reused), so
decoding a thumbnail costs what it costs in production.  Rows go in with bulk Core
inserts in large batches: 100,000 faxes take seconds, not hours.  Received faxes are
routed as the server routes them: a delivery notice (outbox channel ``inbound``) names
each item's user.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Table, func, insert, select

from umfax.conversion.convert import convert_documents
from umfax.conversion.model import ConversionOptions, FaxPage
from umfax.store import Store
from umfax.store.console_models import InboundTag
from umfax.store.models import Inbound, InboundPage, Job, Outbox, Page, User

LETTER = """ACME Supplies Ltd
14 Harbour Road, Portsmouth

Invoice {n}

Dear customer,

please find our invoice for last month's deliveries below.
Amount due: 1,250.00 EUR within 30 days.

Item                    Qty     Price
Paper A4 80g            40      160.00
Toner cartridge         6       990.00
Delivery                1       100.00

Kind regards,
Accounts department
"""
NUMBERS = [f"+4420794{n:05d}" for n in range(0, 500)]
STATIONS = [f"ACME FAX {n}" for n in range(50)] + [f"+44 20 794 {n:04d}" for n in range(50)] + [""]
TAGS = ("invoice", "order", "urgent")
BATCH = 5000


@cache
def sample_pages() -> tuple[FaxPage, ...]:
    """A fine and a standard page of a one-page letter (full length, as a fax machine sends)."""
    out: list[FaxPage] = []
    for resolution in ("fine", "standard"):
        options = ConversionOptions(resolution=resolution, encoding="mmr", trim_trailing_white=False)  # type: ignore[arg-type]
        out.append(convert_documents([("letter.txt", LETTER.format(n=1187).encode())], options)[0])
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Seeded:
    users: dict[str, int]
    sent: int
    received: int
    busy_number: str  # a frequent sender's number (searches find many)
    sample_job: dict[str, int]  # user name -> one of their job ids
    sample_inbound: dict[str, int]  # user name -> one of their received ids


def _insert(store: Store, table: Table, rows: list[dict[str, Any]]) -> None:
    with store.engine.begin() as connection:
        for start in range(0, len(rows), BATCH):
            connection.execute(insert(table), rows[start : start + BATCH])


def _next_id(store: Store, column: Any) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.max(column))).scalar() or 0) + 1


def seed(store: Store, faxes: int, users: list[str], seed_value: int = 18) -> Seeded:
    """Add ``faxes`` faxes (half sent, half received) spread over the last year among
    ``users`` (names in the users table)."""
    rng = random.Random(seed_value)
    with store.engine.connect() as connection:
        ids = dict(connection.execute(select(User.name, User.id).where(User.name.in_(users))).all())
    pages = sample_pages()
    now = datetime.now(UTC)
    year = timedelta(days=365).total_seconds()
    sent, received = faxes // 2, faxes - faxes // 2
    job_id, inbound_id = _next_id(store, Job.id), _next_id(store, Inbound.id)
    stamps = sorted((now - timedelta(seconds=rng.random() * year)) for _ in range(faxes))
    jobs, page_rows, inbound, inbound_pages, notices, tags = [], [], [], [], [], []
    sample_job: dict[str, int] = {}
    sample_inbound: dict[str, int] = {}
    for n in range(sent):
        name = users[n % len(users)]
        at = stamps[2 * n]
        state = "sent" if rng.random() < 0.9 else "failed"
        page = pages[n % len(pages)]
        jobs.append(
            {
                "id": job_id + n,
                "state": state,
                "priority": 0,
                "number": rng.choice(NUMBERS),
                "number_as_given": "",
                "recipient_name": "Accounts",
                "recipient_company": "ACME",
                "sender": f"{name}@example.com",
                "user_id": ids[name],
                "subject": f"Order {n}",
                "comments": "",
                "cover": False,
                "resolution": "fine" if page.y_res > 150 else "standard",
                "paper": "letter",
                "source": "bench",
                "source_ref": None,
                "notify": {},
                "created_at": at,
                "updated_at": at,
                "not_before": at,
                "kill_at": None,
                "max_tries": 3,
                "max_dials": 12,
                "tries": 1,
                "dials": 1,
                "page_count": 1,
                "pages_done": 1 if state == "sent" else 0,
                "status": "sent" if state == "sent" else "the number was busy",
                "last_cause": None if state == "sent" else "busy",
                "claimed_by": None,
                "lease_until": None,
                "cancel_requested": False,
                "completed_at": at,
            }
        )
        page_rows.append(_page(page, job_id=job_id + n))
        sample_job.setdefault(name, job_id + n)
    for n in range(received):
        name = users[n % len(users)]
        at = stamps[2 * n + 1] if 2 * n + 1 < faxes else now
        ident = inbound_id + n
        page = pages[n % len(pages)]
        inbound.append(
            {
                "id": ident,
                "state": "received",
                "line": "line1",
                "caller_number": rng.choice(NUMBERS),
                "caller_name": "",
                "called_number": "+442079400000",
                "remote_id": rng.choice(STATIONS),
                "started_at": at,
                "ended_at": at,
                "pages": 1,
                "bit_rate": 14400,
                "encoding": "mmr",
                "ecm": True,
                "result": "ok",
                "message": "",
                "transport": "",
                "user_id": None,
                "delivered_at": at,
                "kind": "fax",
            }
        )
        inbound_pages.append(_page(page, inbound_id=ident) | {"good": True, "received_at": at})
        notices.append(
            {
                "origin": f"inbound:{ident}",
                "channel": "inbound",
                "target": name,
                "payload": {"inbound": ident},
                "state": "done",
                "tries": 1,
                "next_at": at,
                "last_error": "",
                "created_at": at,
                "done_at": at,
            }
        )
        if rng.random() < 0.1:
            tags.append({"inbound_id": ident, "tag": rng.choice(TAGS)})
        sample_inbound.setdefault(name, ident)
    _insert(store, Job.__table__, jobs)  # type: ignore[arg-type]
    _insert(store, Page.__table__, page_rows)  # type: ignore[arg-type]
    _insert(store, Inbound.__table__, inbound)  # type: ignore[arg-type]
    _insert(store, InboundPage.__table__, inbound_pages)  # type: ignore[arg-type]
    _insert(store, Outbox.__table__, notices)  # type: ignore[arg-type]
    _insert(store, InboundTag.__table__, tags)  # type: ignore[arg-type]
    with store.engine.begin() as connection:  # PostgreSQL: ids given, so move the sequences on
        if connection.dialect.name == "postgresql":
            for table in ("jobs", "pages", "inbound", "inbound_pages"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
            connection.exec_driver_sql("ANALYZE")
        else:
            connection.exec_driver_sql("ANALYZE")
    return Seeded(ids, sent, received, NUMBERS[0], sample_job, sample_inbound)


def _page(page: FaxPage, **owner: int) -> dict[str, Any]:
    return {
        **owner,
        "seq": 1,
        "width": page.width,
        "length": page.length,
        "x_res": page.x_res,
        "y_res": page.y_res,
        "encoding": page.encoding,
        "data": page.data,
    }
