"""The console's sent faxes: jobs as one person may see them, scoped in SQL.

A user sees the jobs they own (``jobs.user_id``); an administrator sees everyone's and
may narrow the list to one user.  Lists page by keyset on (``created_at``, ``id``),
newest first, following the ``ix_jobs_user_created`` index.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, true, tuple_
from sqlalchemy.sql.elements import ColumnElement

from umfax.store import Store
from umfax.store.console_inbox import Cursor, Viewer
from umfax.store.models import Attempt, Job, Page, User


@dataclass(frozen=True, slots=True)
class JobList:
    jobs: list[Job]
    owners: dict[int, str]  # user id -> name (admins' lists show whose fax it is)
    next: Cursor | None


def owned(viewer: Viewer) -> ColumnElement[bool]:
    return true() if viewer.admin else Job.user_id == viewer.user_id


class SentStore:
    """Scoped reads of jobs, their pages and calls."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def listing(
        self, viewer: Viewer, *, owner: int | None = None, after: Cursor | None = None, limit: int = 50
    ) -> JobList:
        condition = [owned(viewer)]
        if viewer.admin and owner is not None:
            condition.append(Job.user_id == owner)
        if after is not None:
            condition.append(tuple_(Job.created_at, Job.id) < tuple_(after.at, after.id))
        statement = (
            select(Job).where(*condition).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
        )
        with self.store.reading() as session:
            jobs = list(session.scalars(statement))
            ids = {job.user_id for job in jobs if job.user_id is not None}
            owners = (
                dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
                if ids
                else {}
            )
        page = jobs[:limit]
        last = page[-1] if len(jobs) > limit else None
        return JobList(page, owners, Cursor(last.created_at, last.id) if last else None)

    def find(self, viewer: Viewer, job_id: int) -> Job | None:
        with self.store.reading() as session:
            return session.scalars(select(Job).where(Job.id == job_id, owned(viewer))).first()

    def attempts(self, job_id: int) -> list[Attempt]:
        return self.store.attempts(job_id)

    def page(self, viewer: Viewer, job_id: int, seq: int) -> Page | None:
        with self.store.reading() as session:
            return session.scalars(
                select(Page)
                .join(Job, Job.id == Page.job_id)
                .where(Page.job_id == job_id, Page.seq == seq, owned(viewer))
            ).first()

    def page_count(self, job_id: int) -> int:
        with self.store.reading() as session:
            return len(list(session.scalars(select(Page.id).where(Page.job_id == job_id))))

    def owners_of(self, job_ids: set[int]) -> dict[int, int | None]:
        """job id -> owner user id (for sending each event only to its owner)."""
        if not job_ids:
            return {}
        with self.store.reading() as session:
            return dict(session.execute(select(Job.id, Job.user_id).where(Job.id.in_(job_ids))).all())

    def users(self) -> list[tuple[int, str]]:
        with self.store.reading() as session:
            return list(session.execute(select(User.id, User.name).order_by(User.name)))
