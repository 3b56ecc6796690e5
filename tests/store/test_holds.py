"""Hold, release and reprioritise a waiting job: a held job is never claimed by a line."""

from __future__ import annotations

import pytest

from umfax.errors import InvalidTransition
from umfax.lifecycle import JobState
from umfax.store import DocumentIn, JobSpec, PageIn, Store
from umfax.store.holds import QueueControl, is_held


def queued_job(store: Store, number: str, priority: int = 0) -> int:
    job = store.submit(JobSpec(number=number, priority=priority), [DocumentIn("a.txt", b"hi", "text/plain")])
    claimed = store.claim_conversion("conv", 60)
    assert claimed is not None
    page = PageIn(data=b"\x00", width=1728, length=1, x_res=204, y_res=98, encoding="mh")
    store.finish_conversion(job.id, "conv", [page])
    return job.id


def test_a_held_job_waits_until_released_and_priority_orders_the_queue(store: Store) -> None:
    control = QueueControl(store)
    first = queued_job(store, "+12125550101")
    second = queued_job(store, "+12125550102")
    held = control.hold(first, "root@example.com")
    assert is_held(held) and held.status == "held by root@example.com"
    claim = store.claim_send("line/1", "line1", 60)
    assert claim is not None and claim.job.id == second  # the held job is skipped
    assert store.claim_send("line/2", "line2", 60) is None
    with pytest.raises(InvalidTransition):
        control.hold(second, "root")  # in a call
    assert [j.id for j in control.queue()] == [second, first]
    released = control.release(first, "root")
    assert not is_held(released) and released.status == "waiting for a line"
    with pytest.raises(InvalidTransition, match="not held"):
        control.release(first, "root")
    third = queued_job(store, "+12125550103")
    control.reprioritise(third, 10, "root")
    with pytest.raises(InvalidTransition):
        control.reprioritise(third, 1000, "root")
    assert [j.id for j in control.queue()] == [second, third, first]
    claim = store.claim_send("line/2", "line2", 60)
    assert claim is not None and claim.job.id == third
    store.cancel(first)
    assert store.get_job(first).state == JobState.CANCELLED
