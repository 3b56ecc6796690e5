"""The job queue: a worker claims a job under a lease (to convert it, or a line to send
it), reports progress, and finishes it; the call's outcome decides the job's next state
per :mod:`umfax.lifecycle`.  The per-call path (claim, progress, finish) runs on Core
statements from :mod:`umfax.store.statements`, not the ORM."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.orm import Session

from umfax.errors import InvalidTransition, NotFound
from umfax.lifecycle import FailureCause, JobState, Limits, decide_after_failure
from umfax.store import statements as sql
from umfax.store.jobs import JobStore
from umfax.store.models import Document, Job, Page, utcnow
from umfax.store.specs import CallOutcome, Claim, PageIn


class JobQueue(JobStore):
    """Claiming jobs under a lease, converting and sending them, and concluding each call."""

    # -- claiming -------------------------------------------------------------------

    def _claim(
        self,
        session: Session | Connection,
        from_state: JobState,
        to_state: JobState,
        worker: str,
        lease: float,
        now: datetime,
        status: str,
        *,
        due: bool = False,
        number: str | None = None,
        not_to: str | None = None,
    ) -> Job | None:
        statement = sql.claim(from_state, to_state, due=due, by_number=bool(number), not_to=bool(not_to))
        params = {
            "v_worker": worker,
            "v_lease_until": now + timedelta(seconds=lease),
            "v_now": now,
            "v_status": status,
        }
        if number:
            params["v_number"] = number
        if not_to:
            params["v_not_to"] = not_to
        row = session.execute(statement, params).first()
        # A detached snapshot: the claim is settled in this statement; later changes go
        # through their own statements.
        return None if row is None else Job(**row._mapping)

    # -- conversion -----------------------------------------------------------------

    def claim_conversion(self, worker: str, lease: float) -> tuple[Job, list[Document]] | None:
        now = utcnow()
        with self.writing() as session:
            job = self._claim(
                session, JobState.PENDING, JobState.CONVERTING, worker, lease, now, "converting documents"
            )
            if job is None:
                return None
            self._event(session, "converting", "converting documents", job_id=job.id, at=now, worker=worker)
            docs = list(
                session.scalars(select(Document).where(Document.job_id == job.id).order_by(Document.seq))
            )
            return job, docs

    def finish_conversion(self, job_id: int, worker: str, pages: Sequence[PageIn]) -> Job:
        now = utcnow()
        with self.writing() as session:
            job = self._held(session, job_id, worker, JobState.CONVERTING)
            session.execute(delete(Page).where(Page.job_id == job_id))
            for seq, page in enumerate(pages, start=1):
                session.add(
                    Page(
                        job_id=job_id,
                        seq=seq,
                        width=page.width,
                        length=page.length,
                        x_res=page.x_res,
                        y_res=page.y_res,
                        encoding=page.encoding,
                        data=page.data,
                    )
                )
            job.page_count = len(pages)
            job.pages_done = 0
            if job.cancel_requested:
                self._move(session, job, JobState.CANCELLED, now)
                job.status = "cancelled"
                self._event(session, "cancelled", "cancelled during conversion", job_id=job_id, at=now)
                return job
            self._move(session, job, JobState.QUEUED, now)
            job.status = "waiting for a line"
            size = sum(len(p.data) for p in pages)
            self._event(
                session,
                "converted",
                f"{len(pages)} page(s) ready to send",
                job_id=job_id,
                at=now,
                pages=len(pages),
                bytes=size,
            )
            return job

    def fail_job(self, job_id: int, worker: str | None, cause: FailureCause, message: str) -> Job:
        """Fail a job permanently (bad document, refused number...)."""
        now = utcnow()
        with self.writing() as session:
            job = (
                self._locked(session, job_id) if worker is None else self._held(session, job_id, worker, None)
            )
            self._move(session, job, JobState.FAILED, now)
            job.last_cause = cause.value
            job.status = message
            self._event(session, "failed", message, job_id=job_id, at=now, cause=cause.value)
            return job

    def _held(self, session: Session, job_id: int, worker: str, state: JobState | None) -> Job:
        """The job, which ``worker`` must still hold (its lease was not taken over)."""
        job = self._locked(session, job_id)
        self._check_held(job, worker, state)
        return job

    @staticmethod
    def _held_row(conn: Connection, job_id: int, worker: str, state: JobState) -> Job:
        """Like ``_held`` without the ORM: a detached snapshot, locked until commit."""
        row = conn.execute(sql.JOB_FOR_UPDATE, {"v_job_id": job_id}).first()
        if row is None:
            raise NotFound(f"there is no job {job_id}; `umfax jobs` lists them")
        job = Job(**row._mapping)
        JobQueue._check_held(job, worker, state)
        return job

    @staticmethod
    def _check_held(job: Job, worker: str, state: JobState | None) -> None:
        if job.claimed_by != worker or (state is not None and job.state != state.value):
            raise InvalidTransition(
                f"job {job.id} is no longer held by {worker} (state {job.state}, "
                f"held by {job.claimed_by}); its lease may have expired"
            )

    # -- sending --------------------------------------------------------------------

    def claim_send(
        self,
        worker: str,
        line: str,
        lease: float,
        *,
        number: str | None = None,
        dialled: str = "",
        not_to: str | None = None,
    ) -> Claim | None:
        """Atomically take the most urgent due job (for ``number`` only, when given; never one
        addressed to ``not_to``, the line's own number)."""
        now = utcnow()
        with self._writing_core() as conn:
            job = self._claim(
                conn,
                JobState.QUEUED,
                JobState.SENDING,
                worker,
                lease,
                now,
                f"dialling on {line}",
                due=True,
                number=number,
                not_to=not_to,
            )
            if job is None:
                return None
            pages = [
                Page(**row._mapping)
                for row in conn.execute(sql.PAGES_AFTER, {"v_job_id": job.id, "v_after": job.pages_done})
            ]
            attempt_id = conn.scalar(
                sql.OPEN_ATTEMPT,
                {
                    "job_id": job.id,
                    "line": line,
                    "worker": worker,
                    "dialled": dialled,
                    "started_at": now,
                    "pages_total": job.page_count,
                },
            )
            assert attempt_id is not None
            self._event(
                conn,
                "dialling",
                f"dialling {job.number} on {line}",
                job_id=job.id,
                line=line,
                at=now,
                attempt=attempt_id,
                first_page=job.pages_done + 1,
            )
            return Claim(job=job, attempt_id=attempt_id, worker=worker, line=line, pages=pages)

    def record_progress(
        self,
        claim: Claim,
        *,
        status: str,
        pages_done: int | None = None,
        kind: str = "progress",
        **data: Any,
    ) -> None:
        """Note progress of a live call (page confirmed, remote identified...)."""
        now = utcnow()
        params: dict[str, Any] = {
            "v_job_id": claim.job.id,
            "v_worker": claim.worker,
            "v_status": status,
            "v_now": now,
        }
        if pages_done is not None:
            params["v_pages_done"] = pages_done
        with self._writing_core() as conn:
            if self.dialect == "postgresql":
                # A progress note lost in a crash costs at most a page sent again (the
                # retry starts after the last page known confirmed), never a lost page;
                # so it need not wait for the WAL flush.
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            held = conn.execute(sql.PROGRESS if pages_done is None else sql.PROGRESS_PAGES, params)
            if not held.rowcount:
                return
            if pages_done is not None:
                conn.execute(
                    sql.ATTEMPT_PAGES,
                    {"v_attempt_id": claim.attempt_id, "v_pages_sent": pages_done - claim.job.pages_done},
                )
            self._event(conn, kind, status, job_id=claim.job.id, at=now, attempt=claim.attempt_id, **data)

    def is_cancel_requested(self, job_id: int) -> bool:
        with self.reading() as session:
            return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))

    def finish_send(self, claim: Claim, outcome: CallOutcome, limits_now: datetime | None = None) -> Job:
        """Record the call's result and decide the job's next state, in one transaction."""
        now = limits_now or utcnow()
        with self._writing_core() as conn:
            job = self._held_row(conn, claim.job.id, claim.worker, JobState.SENDING)
            conn.execute(
                sql.CLOSE_ATTEMPT,
                {
                    "v_attempt_id": claim.attempt_id,
                    "v_ended_at": outcome.ended_at or now,
                    "v_connected_at": outcome.connected_at,
                    "v_remote_id": outcome.remote_id,
                    "v_bit_rate": outcome.bit_rate,
                    "v_encoding": outcome.encoding,
                    "v_ecm": outcome.ecm,
                    "v_resolution": outcome.resolution,
                    "v_transport": outcome.transport,
                    "v_pages_sent": outcome.pages_sent,
                    "v_result": outcome.cause.value if outcome.cause else "ok",
                    "v_message": outcome.message[:1000],
                },
            )
            job.pages_done = min(job.page_count, claim.job.pages_done + outcome.pages_sent)
            self._conclude(conn, job, outcome.cause, outcome.message, now, line=claim.line)
            conn.execute(
                sql.JOB_OUTCOME,
                {"v_job_id": job.id} | {f"v_{name}": getattr(job, name) for name in sql.JOB_OUTCOME_COLUMNS},
            )
            return job

    def release(self, claim: Claim, reason: str) -> Job:
        """Give back a claimed job the call never reached: no try or dial counts."""
        now = utcnow()
        with self.writing() as session:
            job = self._held(session, claim.job.id, claim.worker, JobState.SENDING)
            session.execute(
                update(sql.ATTEMPTS)
                .where(sql.ATTEMPTS.c.id == claim.attempt_id)
                .values(ended_at=now, result="not_sent", message=reason[:1000])
            )
            self._move(session, job, JobState.QUEUED, now)
            job.status = "waiting for a line"
            self._event(session, "released", reason, job_id=job.id, line=claim.line, at=now)
            return job

    def _conclude(
        self,
        session: Session | Connection,
        job: Job,
        cause: FailureCause | None,
        message: str,
        now: datetime,
        line: str | None = None,
    ) -> None:
        if cause is None:
            job.tries += 1
            job.dials += 1
            self._move(session, job, JobState.SENT, now)
            job.status = f"sent {job.page_count} page(s)"
            job.last_cause = None
            self._event(session, "sent", job.status, job_id=job.id, line=line, at=now)
            return
        if job.cancel_requested:
            self._move(session, job, JobState.CANCELLED, now)
            job.status = "cancelled"
            job.last_cause = FailureCause.CANCELLED.value
            self._event(session, "cancelled", "cancelled during the call", job_id=job.id, line=line, at=now)
            return
        decision = decide_after_failure(
            cause,
            tries=job.tries,
            dials=job.dials,
            limits=Limits(job.max_tries, job.max_dials, job.kill_at),
            now=now,
            rules=self.retry_rules,
        )
        job.tries, job.dials, job.last_cause = decision.tries, decision.dials, cause.value
        detail = f"{decision.reason}" + (f" ({message})" if message else "")
        self._move(session, job, decision.state, now)
        job.status = detail[:500]
        if decision.state is JobState.QUEUED:
            assert decision.not_before is not None
            job.not_before = decision.not_before
            self._event(
                session,
                "retry_scheduled",
                detail,
                job_id=job.id,
                line=line,
                at=now,
                cause=cause.value,
                not_before=decision.not_before.isoformat(),
                tries=job.tries,
                dials=job.dials,
            )
        else:
            self._event(
                session,
                "failed",
                detail,
                job_id=job.id,
                line=line,
                at=now,
                cause=cause.value,
                tries=job.tries,
                dials=job.dials,
            )
