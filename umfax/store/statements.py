"""Core statements for the store's hot path, built once with bound parameters.

A line makes three store calls per job (claim, progress, finish).  Building a fresh
statement with literal values for each costs more CPU than the round trip to the
database (SQLAlchemy derives a cache key from every element each time); a statement
built once with ``bindparam`` placeholders is hashed once and its compiled form reused.
"""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, insert, select, update
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Insert, Select, Update

from umfax.lifecycle import JobState
from umfax.store.models import Attempt, Event, Job, Page

EVENTS = cast(Table, Event.__table__)
ATTEMPTS = cast(Table, Attempt.__table__)
JOBS = cast(Table, Job.__table__)
PAGES = cast(Table, Page.__table__)

_IN_CALL = aliased(Job, name="in_call")
#: No job to the same number is in a call now (one call at a time per number: a number
#: in a call would answer busy).
NO_CALL_IN_PROGRESS = ~exists().where(_IN_CALL.number == Job.number, _IN_CALL.state == JobState.SENDING)

INSERT_EVENT: Insert = insert(EVENTS)

#: Columns a job's conclusion (state change, counters, status) may change.
JOB_OUTCOME_COLUMNS = (
    "state",
    "updated_at",
    "completed_at",
    "claimed_by",
    "lease_until",
    "status",
    "last_cause",
    "tries",
    "dials",
    "not_before",
    "pages_done",
)


@cache
def claim(from_state: JobState, to_state: JobState, *, due: bool, by_number: bool, not_to: bool) -> Update:
    """Take the most urgent job in ``from_state`` in one statement.

    Parameters: ``v_worker``, ``v_lease_until``, ``v_now``, ``v_status``; ``v_number`` with
    ``by_number`` (otherwise no job to a number already in a call), ``v_not_to`` with
    ``not_to``.  ``due`` adds ``not_before <= v_now``.
    """
    where: list[Any] = [JOBS.c.state == from_state.value, JOBS.c.cancel_requested.is_(False)]
    if due:
        where.append(JOBS.c.not_before <= bindparam("v_now"))
    if by_number:
        where.append(JOBS.c.number == bindparam("v_number"))
    elif from_state is JobState.QUEUED:
        where.append(NO_CALL_IN_PROGRESS)
    if not_to:
        where.append(JOBS.c.number != bindparam("v_not_to"))
    order = (
        (JOBS.c.priority.desc(), JOBS.c.not_before, JOBS.c.id)
        if from_state is JobState.QUEUED
        else (JOBS.c.priority.desc(), JOBS.c.id)
    )
    candidate = (
        select(JOBS.c.id).where(*where).order_by(*order).limit(1).with_for_update(skip_locked=True)
    ).scalar_subquery()
    return (
        update(JOBS)
        .where(JOBS.c.id == candidate, JOBS.c.state == from_state.value)
        .values(
            state=to_state.value,
            claimed_by=bindparam("v_worker"),
            lease_until=bindparam("v_lease_until"),
            updated_at=bindparam("v_now"),
            status=bindparam("v_status"),
        )
        .returning(*JOBS.c)
    )


PAGES_AFTER: Select[Any] = (
    select(PAGES)
    .where(PAGES.c.job_id == bindparam("v_job_id"), PAGES.c.seq > bindparam("v_after"))
    .order_by(PAGES.c.seq)
)

OPEN_ATTEMPT: Insert = insert(ATTEMPTS).returning(ATTEMPTS.c.id)

#: The job, locked for the rest of the transaction (``v_job_id``).
JOB_FOR_UPDATE: Select[Any] = select(JOBS).where(JOBS.c.id == bindparam("v_job_id")).with_for_update()

#: A live call's progress on a job its worker still holds.
PROGRESS = (
    update(JOBS)
    .where(JOBS.c.id == bindparam("v_job_id"), JOBS.c.claimed_by == bindparam("v_worker"))
    .values(status=bindparam("v_status"), updated_at=bindparam("v_now"))
)
PROGRESS_PAGES = PROGRESS.values(pages_done=bindparam("v_pages_done"))
ATTEMPT_PAGES = (
    update(ATTEMPTS)
    .where(ATTEMPTS.c.id == bindparam("v_attempt_id"))
    .values(pages_sent=bindparam("v_pages_sent"))
)

#: The end of a call: every call-detail column of the attempt (``v_attempt_id``).
CLOSE_ATTEMPT = (
    update(ATTEMPTS)
    .where(ATTEMPTS.c.id == bindparam("v_attempt_id"))
    .values(
        {
            name: bindparam(f"v_{name}")
            for name in (
                "ended_at",
                "connected_at",
                "remote_id",
                "bit_rate",
                "encoding",
                "ecm",
                "resolution",
                "transport",
                "pages_sent",
                "result",
                "message",
            )
        }
    )
)

#: A job's conclusion (``v_job_id`` and ``v_`` + each of JOB_OUTCOME_COLUMNS).
JOB_OUTCOME = (
    update(JOBS)
    .where(JOBS.c.id == bindparam("v_job_id"))
    .values({name: bindparam(f"v_{name}") for name in JOB_OUTCOME_COLUMNS})
)
