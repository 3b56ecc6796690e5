"""The administrator's queue controls: hold a waiting job, release it, change its priority.

A hold needs no new state or column: a line only claims a queued job whose
``not_before`` has passed (:func:`umfax.store.statements.claim`), so a held job is one
whose ``not_before`` is :data:`HELD_UNTIL`, a date no clock reaches, with the status
"held by ...".  A held pending job is still converted (conversion keeps ``not_before``)
and then waits, held, in the queue.  Release sets ``not_before`` to now; ``umfax retry``
on a held job releases it the same way.  Cancel stays :meth:`JobStore.cancel`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import case, select

from umfax.errors import InvalidTransition, NotFound
from umfax.lifecycle import JobState
from umfax.store.models import Job, utcnow
from umfax.store.store import Store

HELD_UNTIL = datetime(9000, 1, 1, tzinfo=UTC)
#: Jobs the queue page lists: waiting, being converted, or in a call.
LISTED_STATES = (JobState.PENDING, JobState.CONVERTING, JobState.QUEUED, JobState.SENDING)
#: A hold or a new priority applies to jobs not in a call.
WAITING_STATES = frozenset({JobState.PENDING, JobState.CONVERTING, JobState.QUEUED})
PRIORITY_RANGE = range(-100, 101)


def is_held(job: Job) -> bool:
    return job.not_before >= HELD_UNTIL


class QueueControl:
    def __init__(self, store: Store) -> None:
        self.store = store

    def queue(self, limit: int = 500) -> list[Job]:
        """Jobs in a call first, then the rest in the order lines will take them (held
        jobs last)."""
        in_call = case((Job.state == JobState.SENDING.value, 0), else_=1)
        query = (
            select(Job)
            .where(Job.state.in_([s.value for s in LISTED_STATES]))
            .order_by(in_call, Job.priority.desc(), Job.not_before, Job.id)
            .limit(limit)
        )
        with self.store.reading() as session:
            return list(session.scalars(query))

    def _waiting(self, session_job: Job | None, job_id: int, what: str) -> Job:
        if session_job is None:
            raise NotFound(f"there is no job {job_id}")
        state = JobState(session_job.state)
        if state not in WAITING_STATES:
            raise InvalidTransition(f"job {job_id} is {state}; only a waiting job can be {what}")
        return session_job

    def hold(self, job_id: int, by: str) -> Job:
        now = utcnow()
        with self.store.writing() as session:
            job = self._waiting(session.get(Job, job_id, with_for_update=True), job_id, "held")
            job.not_before, job.updated_at = HELD_UNTIL, now
            job.status = f"held by {by}"[:500]
            self.store._event(session, "held", job.status, job_id=job_id, at=now)
            return job

    def release(self, job_id: int, by: str) -> Job:
        now = utcnow()
        with self.store.writing() as session:
            job = self._waiting(session.get(Job, job_id, with_for_update=True), job_id, "released")
            if not is_held(job):
                raise InvalidTransition(f"job {job_id} is not held")
            job.not_before, job.updated_at = now, now
            pending = job.state == JobState.PENDING.value
            job.status = "waiting to be converted" if pending else "waiting for a line"
            self.store._event(session, "released", f"released by {by}", job_id=job_id, at=now)
            return job

    def reprioritise(self, job_id: int, priority: int, by: str) -> Job:
        if priority not in PRIORITY_RANGE:
            raise InvalidTransition(f"a priority is from {PRIORITY_RANGE.start} to {PRIORITY_RANGE.stop - 1}")
        now = utcnow()
        with self.store.writing() as session:
            job = self._waiting(session.get(Job, job_id, with_for_update=True), job_id, "reprioritised")
            before, job.priority, job.updated_at = job.priority, priority, now
            self.store._event(
                session, "reprioritised", f"priority {before} -> {priority} by {by}", job_id=job_id, at=now
            )
            return job
