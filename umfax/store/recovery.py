"""Leases and recovery: a live worker renews the leases of the jobs it holds; jobs whose
worker died go back to the queue, and waiting jobs past their kill time fail."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import and_, select, update

from umfax.lifecycle import CAUSE_TEXT, FailureCause, JobState
from umfax.store.models import Attempt, Job, utcnow
from umfax.store.queue import JobQueue

logger = logging.getLogger(__name__)


class JobRecovery(JobQueue):
    """Leases renewed, jobs of dead workers requeued, jobs past their kill time failed."""

    def extend_leases(self, worker_prefix: str, lease: float) -> int:
        """Keep the jobs held by this process (workers named ``prefix…``) from expiring."""
        now = utcnow()
        with self.writing() as session:
            result = session.execute(
                update(Job)
                .where(
                    Job.claimed_by.startswith(worker_prefix, autoescape=True),
                    Job.state.in_([JobState.CONVERTING.value, JobState.SENDING.value]),
                )
                .values(lease_until=now + timedelta(seconds=lease))
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def recover(self, *, worker_prefix: str | None = None, reason: str = "") -> list[int]:
        """Requeue work whose worker died.

        With ``worker_prefix``: every job held by such workers (used at start, when the
        previous process of this node is known to be gone).  Without: jobs whose lease
        has expired.
        """
        now = utcnow()
        if worker_prefix is not None:
            held = Job.claimed_by.startswith(worker_prefix, autoescape=True)
        else:
            held = and_(Job.lease_until.is_not(None), Job.lease_until < now)
        recovered: list[int] = []
        with self.writing() as session:
            jobs = list(
                session.scalars(
                    select(Job)
                    .where(held, Job.state.in_([JobState.CONVERTING.value, JobState.SENDING.value]))
                    .with_for_update(skip_locked=True)
                )
            )
            for job in jobs:
                previous = job.claimed_by
                why = reason or f"worker {previous} stopped renewing its lease"
                if job.state == JobState.CONVERTING.value:
                    self._move(session, job, JobState.PENDING, now)
                    job.status = "waiting to be converted (recovered)"
                    self._event(
                        session,
                        "requeued",
                        f"conversion interrupted: {why}",
                        job_id=job.id,
                        at=now,
                        worker=previous,
                    )
                else:
                    open_attempts = list(
                        session.scalars(
                            select(Attempt).where(Attempt.job_id == job.id, Attempt.result.is_(None))
                        )
                    )
                    for attempt in open_attempts:
                        attempt.result = FailureCause.INTERRUPTED.value
                        attempt.ended_at = now
                        attempt.message = f"interrupted: {why}"
                    self._event(
                        session,
                        "interrupted",
                        f"call interrupted: {why}",
                        job_id=job.id,
                        at=now,
                        worker=previous,
                    )
                    self._conclude(session, job, FailureCause.INTERRUPTED, why, now)
                recovered.append(job.id)
        for job_id in recovered:
            logger.warning("recovered job", extra={"job": job_id, "reason": reason or "lease expired"})
        return recovered

    def expire(self) -> list[int]:
        """Fail waiting jobs whose kill time has passed."""
        now = utcnow()
        expired: list[int] = []
        with self.writing() as session:
            jobs = session.scalars(
                select(Job)
                .where(
                    Job.state.in_([JobState.PENDING.value, JobState.QUEUED.value]),
                    Job.kill_at.is_not(None),
                    Job.kill_at <= now,
                )
                .with_for_update(skip_locked=True)
            )
            for job in jobs:
                self._move(session, job, JobState.FAILED, now)
                cause = CAUSE_TEXT[FailureCause(job.last_cause)] if job.last_cause else "not sent"
                job.status = f"kill time reached ({cause})"
                self._event(session, "failed", job.status, job_id=job.id, at=now, cause="kill_time")
                expired.append(job.id)
        return expired
