"""The fax printer's port on the store: faxes printed through IPP are submitted like REST
API faxes (:func:`umfax.submit.submit_fax`: dial rules, defaults, job events), for the
printing user, who must be allowed to send (``can_send``) and, when ``[printer] users``
names anyone, be one of them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from umfax.config import Config, UserConfig
from umfax.directory import UserDirectory
from umfax.errors import InvalidNumber, InvalidTransition, NotFound, describe_error
from umfax.lifecycle import JobState
from umfax.printer.ports import FaxDestination, FaxState, FaxStatus, PrintedDocument, RefusedNumber
from umfax.store import DocumentIn, Store
from umfax.store.models import Job
from umfax.submit import FaxRequest, JobBuilder, submit_fax

logger = logging.getLogger(__name__)

_STATES: dict[JobState, FaxState] = {
    JobState.PENDING: "pending",
    JobState.CONVERTING: "pending",
    JobState.QUEUED: "pending",
    JobState.SENDING: "processing",
    JobState.SENT: "completed",
    JobState.FAILED: "aborted",
    JobState.CANCELLED: "canceled",
}
_FINISHED = [JobState.SENT, JobState.FAILED, JobState.CANCELLED]
_OPEN = [s for s in JobState if s not in _FINISHED]


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class StorePrinterPort:
    """:class:`~umfax.printer.ports.FaxOutPort` on the store (thread-safe: no state of its own
    beyond the user directory's cache)."""

    def __init__(self, config: Config, store: Store, users: UserDirectory | None = None) -> None:
        self.config, self.store = config, store
        self.users = users or UserDirectory(config, store)
        self.builder = JobBuilder(config)

    def _user(self, name: str) -> UserConfig | None:
        return self.users.get(name)

    def _user_id(self, user: UserConfig) -> int | None:
        row = self.store.find_user(email=user.email)
        return row.id if row is not None else None

    def refusal(self, user: str) -> str | None:
        found = self._user(user)
        if found is None:
            return f"{user} is not a umfax user"
        if not found.can_send:
            return f"{found.email} may not send faxes (can_send = false)"
        allowed = self.config.printer.users
        if allowed and found.name not in allowed:
            return f"{found.email} may not use this fax printer ([printer] users)"
        return None

    @staticmethod
    def written(destination: FaxDestination) -> str:
        """The number as dialled by a person: a pre-dial-string that is an international
        prefix ("+1") is put in front; one that is an outside-line code ("9") is left to the
        dial rules, which add the line's own."""
        if destination.pre_dial.startswith("+") and not destination.number.startswith("+"):
            return destination.pre_dial + destination.number
        return destination.number

    def check(self, user: str, destination: FaxDestination) -> str:
        try:
            return self.builder.destination(self.written(destination)).address
        except InvalidNumber as exc:
            raise RefusedNumber(describe_error(exc)) from exc

    def submit(
        self, user: str, destinations: list[FaxDestination], documents: list[PrintedDocument], name: str
    ) -> list[int]:
        found = self._user(user)
        refusal = self.refusal(user)
        if found is None or refusal is not None:
            raise RefusedNumber(refusal or f"{user} may not print")
        user_id = self._user_id(found)
        files = [
            DocumentIn(document.name or name or f"printed-{index + 1}", document.data, document.format)
            for index, document in enumerate(documents)
        ]
        ids = []
        for destination in destinations:
            request = FaxRequest(
                number=self.written(destination),
                documents=files,
                sender=found.email,
                subject=name,
                user_id=user_id,
                source="ipp",
            )
            try:
                job = submit_fax(self.store, self.config, request)
            except InvalidNumber as exc:
                raise RefusedNumber(describe_error(exc)) from exc
            ids.append(job.id)
        logger.info("fax printed", extra={"user": found.name, "jobs": ids})
        return ids

    def _status(self, job: Job, user: str) -> FaxStatus:
        state = JobState(job.state)
        message = job.status if state in (JobState.FAILED, JobState.CANCELLED, JobState.SENDING) else ""
        return FaxStatus(
            fax_id=job.id,
            state=_STATES[state],
            user=user,
            name=job.subject,
            pages_sent=job.pages_done,
            pages=job.page_count,
            message=message,
            created=_utc(job.created_at),
            started=_utc(job.updated_at) if state != JobState.PENDING and not state.terminal else None,
            finished=_utc(job.completed_at),
        )

    def _visible(self, user: str, job: Job) -> bool:
        found = self._user(user)
        return found is not None and (
            found.admin or (job.user_id is not None and job.user_id == self._user_id(found))
        )

    def status(self, user: str, fax_id: int) -> FaxStatus | None:
        try:
            job = self.store.get_job(fax_id)
        except NotFound:
            return None
        return self._status(job, user) if self._visible(user, job) else None

    def jobs(self, user: str, *, finished: bool, limit: int) -> list[FaxStatus]:
        found = self._user(user)
        user_id = self._user_id(found) if found is not None else None
        if user_id is None:
            return []
        rows = self.store.list_jobs(_FINISHED if finished else _OPEN, limit=limit, user_id=user_id)
        return [self._status(job, user) for job in rows]

    def cancel(self, user: str, fax_id: int) -> str | None:
        found = self._user(user)
        try:
            self.store.cancel(fax_id, by=found.email if found is not None else user)
        except (InvalidTransition, NotFound) as exc:
            return describe_error(exc)
        return None
