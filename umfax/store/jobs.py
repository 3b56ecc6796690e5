"""The store's operations: submitting, claiming, finishing and recovering jobs,
receiving faxes, and the event log.  Every state change and its event commit
together; every method is one transaction."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from umfax.errors import InvalidTransition, NotFound, StoreError
from umfax.lifecycle import (
    CAUSE_TEXT,
    DEFAULT_RULES,
    FailureCause,
    JobState,
    Limits,
    RetryRule,
    can_transition,
    decide_after_failure,
)
from umfax.store import statements as sql
from umfax.store.database import WRITE
from umfax.store.models import (
    Attempt,
    Document,
    Event,
    Inbound,
    InboundPage,
    Job,
    LineState,
    Page,
    User,
    utcnow,
)
from umfax.store.outbox import Notice, add_notices

logger = logging.getLogger(__name__)

EVENTS, ATTEMPTS, JOBS, PAGES = sql.EVENTS, sql.ATTEMPTS, sql.JOBS, sql.PAGES


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


@dataclass(frozen=True, slots=True)
class DocumentIn:
    filename: str
    data: bytes
    content_type: str = ""


@dataclass(frozen=True, slots=True)
class JobSpec:
    number: str  # E.164, already validated
    number_as_given: str = ""
    recipient_name: str = ""
    recipient_company: str = ""
    sender: str = ""
    user_id: int | None = None
    subject: str = ""
    comments: str = ""
    cover: bool = True
    resolution: str = "fine"
    paper: str = "letter"
    priority: int = 0
    not_before: datetime | None = None
    kill_at: datetime | None = None
    max_tries: int = 3
    max_dials: int = 12
    source: str = "cli"
    source_ref: str | None = None
    notify: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PageIn:
    data: bytes
    width: int
    length: int
    x_res: float
    y_res: float
    encoding: str


@dataclass(frozen=True, slots=True)
class Claim:
    """A job claimed by a line: the pages still to send and the attempt being made."""

    job: Job
    attempt_id: int
    worker: str
    line: str
    pages: list[Page]  # pages after job.pages_done, in order


@dataclass(frozen=True, slots=True)
class CallOutcome:
    cause: FailureCause | None  # None: every page was sent
    message: str = ""
    remote_id: str = ""
    bit_rate: int = 0
    encoding: str = ""
    ecm: bool = False
    resolution: str = ""
    pages_sent: int = 0  # pages confirmed in this call
    connected_at: datetime | None = None
    ended_at: datetime | None = None


class Store:
    """All access to the store goes through here.  Thread-safe: one session per call."""

    def __init__(
        self,
        engine: Engine,
        *,
        retry_rules: dict[FailureCause, RetryRule] | None = None,
    ) -> None:
        self.engine = engine
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write_engine = engine.execution_options(**{WRITE: True})
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        # SQLite has one writer at a time; threads of this process queue here, in order,
        # instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms.
        self._write_gate: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )
        self.retry_rules = dict(DEFAULT_RULES) | (retry_rules or {})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction, committed on success."""
        try:
            with self._write_gate, self._write.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"store write failed: {exc}") from exc

    @contextmanager
    def _writing_core(self) -> Iterator[Connection]:
        """A write transaction without the ORM: for the per-call hot path (claim,
        progress, finish), where the ORM's bookkeeping costs more than the SQL."""
        try:
            with self._write_gate, self._write_engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"store write failed: {exc}") from exc

    @contextmanager
    def reading(self) -> Iterator[Session]:
        try:
            with self._read() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"store read failed: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()

    # -- events -----------------------------------------------------------

    @staticmethod
    def _event(
        session: Session | Connection,
        kind: str,
        message: str = "",
        *,
        job_id: int | None = None,
        inbound_id: int | None = None,
        line: str | None = None,
        at: datetime | None = None,
        **data: Any,
    ) -> None:
        session.execute(
            sql.INSERT_EVENT,
            {
                "kind": kind,
                "message": message,
                "job_id": job_id,
                "inbound_id": inbound_id,
                "line": line,
                "at": at or utcnow(),
                "data": data,
            },
        )

    def log_event(self, kind: str, message: str = "", **kwargs: Any) -> None:
        with self.writing() as session:
            self._event(session, kind, message, **kwargs)

    def events(
        self,
        *,
        job_id: int | None = None,
        inbound_id: int | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[Event]:
        with self.reading() as session:
            query = select(Event).where(Event.id > after_id)
            if job_id is not None:
                query = query.where(Event.job_id == job_id)
            if inbound_id is not None:
                query = query.where(Event.inbound_id == inbound_id)
            return list(session.scalars(query.order_by(Event.id).limit(limit)))

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

    # -- transitions ---------------------------------------------------------------

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
        Store._check_held(job, worker, state)
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
                update(ATTEMPTS)
                .where(ATTEMPTS.c.id == claim.attempt_id)
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

    # -- leases and recovery -------------------------------------------------------

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

    # -- lines --------------------------------------------------------------------

    def set_line_state(
        self,
        name: str,
        *,
        node: str,
        port: str,
        number: str,
        state: str,
        detail: str = "",
        job_id: int | None = None,
        consecutive_failures: int = 0,
        log: bool = False,
    ) -> None:
        now = utcnow()
        with self.writing() as session:
            row = session.get(LineState, name)
            if row is None:
                row = LineState(name=name)
                session.add(row)
            changed = row.state != state
            row.node, row.port, row.number, row.state = node, port, number, state
            row.detail, row.job_id, row.updated_at = detail[:500], job_id, now
            row.consecutive_failures = consecutive_failures
            if log and changed:
                self._event(
                    session, "line_state", f"{name}: {state} {detail}".strip(), line=name, at=now, state=state
                )

    def touch_lines(self, node: str) -> None:
        """Heartbeat: the lines of ``node`` are still served."""
        with self.writing() as session:
            session.execute(
                update(LineState)
                .where(LineState.node == node, LineState.state != "stopped")
                .values(updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    def line_states(self) -> list[LineState]:
        with self.reading() as session:
            return list(session.scalars(select(LineState).order_by(LineState.name)))

    # -- inbound --------------------------------------------------------------------

    def start_inbound(
        self,
        line: str,
        *,
        caller_number: str = "",
        caller_name: str = "",
        called_number: str = "",
    ) -> Inbound:
        now = utcnow()
        with self.writing() as session:
            fax = Inbound(
                state="receiving",
                line=line,
                caller_number=caller_number,
                caller_name=caller_name,
                called_number=called_number,
                started_at=now,
            )
            session.add(fax)
            session.flush()
            self._event(
                session,
                "inbound_call",
                f"call from {caller_number or 'unknown'} on {line}",
                inbound_id=fax.id,
                line=line,
                at=now,
            )
            return fax

    def add_inbound_page(self, inbound_id: int, seq: int, page: PageIn, good: bool = True) -> None:
        """Store one received page at once, so a dropped call keeps what arrived."""
        now = utcnow()
        with self.writing() as session:
            session.add(
                InboundPage(
                    inbound_id=inbound_id,
                    seq=seq,
                    width=page.width,
                    length=page.length,
                    x_res=page.x_res,
                    y_res=page.y_res,
                    encoding=page.encoding,
                    good=good,
                    data=page.data,
                    received_at=now,
                )
            )
            session.execute(
                update(Inbound)
                .where(Inbound.id == inbound_id)
                .values(pages=Inbound.pages + 1)
                .execution_options(synchronize_session=False)
            )

    def finish_inbound(
        self,
        inbound_id: int,
        *,
        result: str,
        message: str = "",
        remote_id: str = "",
        bit_rate: int = 0,
        encoding: str = "",
        ecm: bool = False,
        user_id: int | None = None,
        deliver_to: Sequence[str] = (),
        quarantine: str = "",
    ) -> Inbound:
        """Close a reception.  With pages, the fax is delivered to the users named in
        ``deliver_to`` (outbox rows in this transaction); ``quarantine`` (a reason) keeps
        it from everyone instead."""
        now = utcnow()
        with self.writing() as session:
            fax = session.get(Inbound, inbound_id)
            if fax is None:
                raise NotFound(f"there is no received fax {inbound_id}")
            fax.ended_at = now
            fax.result = result
            fax.message = message[:1000]
            fax.remote_id, fax.bit_rate, fax.encoding, fax.ecm = remote_id, bit_rate, encoding, ecm
            fax.user_id = user_id
            if result == "ok":
                fax.state = "received"
            else:
                fax.state = "partial" if fax.pages else "failed"
            if quarantine and fax.pages:
                fax.state = "quarantined"
                fax.message = quarantine[:1000]
            elif fax.pages:
                add_notices(
                    session,
                    [
                        Notice(f"inbound:{inbound_id}", "inbound", name, {"inbound": inbound_id})
                        for name in deliver_to
                    ],
                    now,
                )
            self._event(
                session,
                f"inbound_{fax.state}",
                f"{fax.pages} page(s) from {remote_id or fax.caller_number or 'unknown'}"
                + (f": {message}" if message and result != "ok" else ""),
                inbound_id=inbound_id,
                line=fax.line,
                at=now,
                result=result,
                users=list(deliver_to),
                quarantine=quarantine,
            )
            return fax

    def recover_inbound(self, line_prefix: Sequence[str] | None = None) -> list[int]:
        """Close receptions left open by a crash; their stored pages are kept."""
        now = utcnow()
        with self.writing() as session:
            query = select(Inbound).where(Inbound.state == "receiving")
            if line_prefix is not None:
                query = query.where(Inbound.line.in_(list(line_prefix)))
            ids = []
            for fax in session.scalars(query):
                fax.state = "partial" if fax.pages else "failed"
                fax.result = FailureCause.INTERRUPTED.value
                fax.ended_at = now
                fax.message = "the server stopped during reception"
                self._event(
                    session, f"inbound_{fax.state}", fax.message, inbound_id=fax.id, line=fax.line, at=now
                )
                ids.append(fax.id)
            return ids

    def list_inbound(self, limit: int = 200) -> list[Inbound]:
        with self.reading() as session:
            return list(session.scalars(select(Inbound).order_by(Inbound.id.desc()).limit(limit)))

    def get_inbound(self, inbound_id: int) -> Inbound:
        with self.reading() as session:
            fax = session.get(Inbound, inbound_id)
            if fax is None:
                raise NotFound(f"there is no received fax {inbound_id}; `umfax inbox` lists them")
            return fax

    def inbound_pages(self, inbound_id: int) -> list[InboundPage]:
        with self.reading() as session:
            return list(
                session.scalars(
                    select(InboundPage).where(InboundPage.inbound_id == inbound_id).order_by(InboundPage.seq)
                )
            )

    # -- users ----------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        email: str | None = None,
        display_name: str = "",
        fax_number: str | None = None,
        api_key_hash: str | None = None,
    ) -> User:
        with self.writing() as session:
            user = User(
                name=name,
                email=email,
                display_name=display_name,
                fax_number=fax_number,
                api_key_hash=api_key_hash,
            )
            session.add(user)
            session.flush()
            return user

    def sync_users(self, users: Sequence[tuple[str, str, str, str | None, bool]]) -> None:
        """Make the users table hold these (name, email, display name, fax number,
        can_send) rows, as configured; users no longer configured lose can_send."""
        with self.writing() as session:
            existing = {u.name: u for u in session.scalars(select(User))}
            wanted = {name for name, *_ in users}
            for name, user in existing.items():
                if name not in wanted:
                    user.can_send = False
            session.flush()
            for name, email, display_name, fax_number, can_send in users:
                row = existing.get(name)
                if row is None:
                    session.add(
                        User(
                            name=name,
                            email=email,
                            display_name=display_name,
                            fax_number=fax_number,
                            can_send=can_send,
                        )
                    )
                else:
                    row.email, row.display_name = email, display_name
                    row.fax_number, row.can_send = fax_number, can_send

    def find_user(self, *, email: str | None = None, fax_number: str | None = None) -> User | None:
        with self.reading() as session:
            conditions = []
            if email:
                conditions.append(func.lower(User.email) == email.lower())
            if fax_number:
                conditions.append(User.fax_number == fax_number)
            if not conditions:
                return None
            return session.scalars(select(User).where(or_(*conditions))).first()
