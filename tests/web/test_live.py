"""The live-status poller: history before it started is not replayed, each event goes out
once even though every read looks back, and an event committed late (a lower id after a
higher one was read, as on PostgreSQL) still goes out."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from tests.web.conftest import BACKENDS
from umfax.store import DocumentIn, JobSpec, Store
from umfax.store.models import Event, utcnow
from umfax.web.live import LiveHub


@pytest.mark.parametrize("store_url", BACKENDS, indirect=True)
def test_reads_once_and_catches_late_commits(store: Store) -> None:
    job = store.submit(JobSpec(number="+12125550100"), [DocumentIn("a.txt", b"hi")])
    hub = LiveHub(store)
    last = hub._floor = hub._latest_id()
    store.log_event("note", "one", job_id=job.id)
    store.log_event("note", "two", job_id=job.id)
    last, updates = hub._read(last)
    assert [u.message for u in updates] == ["one", "two"] and updates[0].job_id == job.id
    last, updates = hub._read(last)
    assert updates == []

    def event(ident: int, message: str) -> None:
        with store.engine.begin() as connection:
            connection.execute(
                insert(Event).values(
                    id=ident, at=utcnow(), kind="note", message=message, job_id=job.id, data={}
                )
            )

    event(last + 10, "ahead")  # committed first, though its id came second
    last, updates = hub._read(last)
    assert [u.message for u in updates] == ["ahead"]
    event(last - 5, "late")
    last, updates = hub._read(last)
    assert [u.message for u in updates] == ["late"]
    assert hub._read(last)[1] == []
