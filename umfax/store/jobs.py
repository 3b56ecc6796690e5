"""Jobs: submitting them, reading them, moving them through the job lifecycle, and the
operator's cancel and retry.  Claiming and sending are in :mod:`umfax.store.queue`."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from umfax.errors import InvalidTransition, NotFound, StoreError
from umfax.lifecycle import FailureCause, JobState, can_transition
from umfax.store.base import StoreBase
from umfax.store.models import Attempt, Document, Job, Page, utcnow
from umfax.store.outbox import Notice, add_notices
from umfax.store.specs import DocumentIn, JobSpec

logger = logging.getLogger(__name__)


def _report_notice(job: Job, state: JobState, now: datetime) -> Notice | None:
    """The status report a finished job owes its sender, per ``job.notify``."""
    notify = job.notify or {}
    address = notify.get("email")
    wanted = notify.get("reports", "always")
    if not address or wanted == "never" or (wanted == "failure" and state is JobState.SENT):
        return None
    return Notice(
        origin=f"job:{job.id}:{state.value}:{now.isoformat()}",  # one per ending
        channel="report",
        target=str(address),
        payload={"job": job.id, "state": state.value},
    )


class JobStore(StoreBase):
    """Jobs and their documents, pages and calls: submitted, read, cancelled, retried."""

    # -- submission ---------------------------------------------------------

    def submit(self, spec: JobSpec, documents: Sequence[DocumentIn]) -> Job:
        """Store a new job and its documents in one transaction.

        When ``spec.source_ref`` is set and a job from the same source with the same
        reference exists, that job is returned instead (a resubmitted email is not
        faxed twice).
        """
        if not documents:
            raise StoreError("a fax job needs at least one document")
        now = utcnow()
        if spec.source_ref is not None:
            existing = self._by_source_ref(spec.source, spec.source_ref)
            if existing is not None:
                return existing
        try:
            with self.writing() as session:
                job = self.add_job(session, spec, documents, now)
        except StoreError as exc:
            if isinstance(exc.__cause__, IntegrityError) and spec.source_ref is not None:
                existing = self._by_source_ref(spec.source, spec.source_ref)
                if existing is not None:
                    return existing
            raise
        logger.info("job accepted", extra={"job": job.id, "number": spec.number, "source": spec.source})
        return job

    def add_job(self, session: Session, spec: JobSpec, documents: Sequence[DocumentIn], now: datetime) -> Job:
        """Add a job and its documents to ``session``'s transaction (see :meth:`submit`)."""
        if not documents:
            raise StoreError("a fax job needs at least one document")
        job = Job(
            state=JobState.PENDING.value,
            priority=spec.priority,
            number=spec.number,
            number_as_given=spec.number_as_given or spec.number,
            recipient_name=spec.recipient_name,
            recipient_company=spec.recipient_company,
            sender=spec.sender,
            user_id=spec.user_id,
            subject=spec.subject,
            comments=spec.comments,
            cover=spec.cover,
            cover_template=spec.cover_template,
            resolution=spec.resolution,
            paper=spec.paper,
            source=spec.source,
            source_ref=spec.source_ref,
            notify=spec.notify,
            created_at=now,
            updated_at=now,
            not_before=spec.not_before or now,
            kill_at=spec.kill_at,
            max_tries=spec.max_tries,
            max_dials=spec.max_dials,
            status="waiting to be converted",
        )
        for seq, doc in enumerate(documents, start=1):
            job.documents.append(
                Document(
                    seq=seq,
                    filename=doc.filename,
                    content_type=doc.content_type,
                    size=len(doc.data),
                    sha256=hashlib.sha256(doc.data).hexdigest(),
                    data=doc.data,
                )
            )
        session.add(job)
        session.flush()
        self._event(
            session,
            "accepted",
            f"accepted from {spec.source}: {len(documents)} document(s) for {spec.number}",
            job_id=job.id,
            at=now,
            source=spec.source,
            sender=spec.sender,
            documents=[d.filename for d in documents],
        )
        return job

    def _by_source_ref(self, source: str, ref: str) -> Job | None:
        with self.reading() as session:
            return session.scalars(select(Job).where(Job.source == source, Job.source_ref == ref)).first()

    # -- reads ----------------------------------------------------------------

    def get_job(self, job_id: int) -> Job:
        with self.reading() as session:
            job = session.get(Job, job_id)
            if job is None:
                raise NotFound(f"there is no job {job_id}; `umfax jobs` lists them")
            return job

    def list_jobs(
        self,
        states: Sequence[JobState] | None = None,
        limit: int = 200,
        *,
        user_id: int | None = None,
        number: str | None = None,
        before_id: int | None = None,
        since: datetime | None = None,
        source: str | None = None,
    ) -> list[Job]:
        """Jobs, newest first; ``before_id`` pages on from an earlier page's last id."""
        with self.reading() as session:
            query = select(Job)
            if states:
                query = query.where(Job.state.in_([s.value for s in states]))
            if user_id is not None:
                query = query.where(Job.user_id == user_id)
            if number is not None:
                query = query.where(Job.number == number)
            if before_id is not None:
                query = query.where(Job.id < before_id)
            if since is not None:
                query = query.where(Job.created_at >= since)
            if source is not None:
                query = query.where(Job.source == source)
            return list(session.scalars(query.order_by(Job.id.desc()).limit(limit)))

    def count_jobs(self) -> dict[str, int]:
        with self.reading() as session:
            rows = session.execute(select(Job.state, func.count()).group_by(Job.state))
            return {state: count for state, count in rows}

    def documents(self, job_id: int) -> list[Document]:
        with self.reading() as session:
            return list(
                session.scalars(select(Document).where(Document.job_id == job_id).order_by(Document.seq))
            )

    def pages(self, job_id: int) -> list[Page]:
        with self.reading() as session:
            return list(session.scalars(select(Page).where(Page.job_id == job_id).order_by(Page.seq)))

    def attempts(self, job_id: int) -> list[Attempt]:
        with self.reading() as session:
            return list(session.scalars(select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.id)))

    # -- transitions (the job lifecycle applied) -------------------------------------

    @staticmethod
    def _move(session: Session | Connection, job: Job, target: JobState, now: datetime) -> None:
        current = JobState(job.state)
        if not can_transition(current, target):
            raise InvalidTransition(f"job {job.id} is {current}; it cannot become {target}")
        job.state = target.value
        job.updated_at = now
        if target.terminal:
            job.completed_at = now
            report = _report_notice(job, target, now)
            if report is not None:
                add_notices(session, [report], now)
        if not target.active:
            job.claimed_by = None
            job.lease_until = None

    def _locked(self, session: Session, job_id: int) -> Job:
        job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()
        if job is None:
            raise NotFound(f"there is no job {job_id}; `umfax jobs` lists them")
        return job

    # -- operator actions -----------------------------------------------------------

    def cancel(self, job_id: int, by: str = "") -> Job:
        now = utcnow()
        with self.writing() as session:
            job = self._locked(session, job_id)
            state = JobState(job.state)
            if state.terminal:
                raise InvalidTransition(f"job {job_id} is already {state}; nothing to cancel")
            if state.active:
                job.cancel_requested = True
                job.status = "cancelling"
                self._event(
                    session,
                    "cancel_requested",
                    f"cancel requested by {by or 'operator'}",
                    job_id=job_id,
                    at=now,
                )
                return job
            self._move(session, job, JobState.CANCELLED, now)
            job.status = "cancelled"
            job.last_cause = FailureCause.CANCELLED.value
            self._event(session, "cancelled", f"cancelled by {by or 'operator'}", job_id=job_id, at=now)
            return job

    def retry(self, job_id: int, by: str = "") -> Job:
        """Send a failed or cancelled job again, or a waiting one now."""
        now = utcnow()
        with self.writing() as session:
            job = self._locked(session, job_id)
            state = JobState(job.state)
            if state in (JobState.PENDING, JobState.QUEUED):
                job.not_before = now
                job.updated_at = now
                self._event(
                    session, "retried", f"retry now requested by {by or 'operator'}", job_id=job_id, at=now
                )
                return job
            if state not in (JobState.FAILED, JobState.CANCELLED):
                raise InvalidTransition(
                    f"job {job_id} is {state}; only failed, cancelled or waiting jobs can be retried"
                )
            has_pages = job.page_count > 0 and job.last_cause != FailureCause.BAD_DOCUMENT.value
            self._move(session, job, JobState.QUEUED if has_pages else JobState.PENDING, now)
            job.tries = job.dials = 0
            job.cancel_requested = False
            job.not_before = now
            if job.kill_at is not None and job.kill_at <= now:
                job.kill_at = now + (job.kill_at - job.created_at)
            job.status = "waiting for a line" if has_pages else "waiting to be converted"
            self._event(session, "retried", f"requeued by {by or 'operator'}", job_id=job_id, at=now)
            return job
