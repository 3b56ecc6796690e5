"""The plain facts a report is rendered from, as the dispatcher loads them.

:mod:`~umfax.notifications.reports` renders from these records only: it never reads the
store, so a report can be rendered (and tested) from data alone.  :meth:`of` copies the
fields of the same name from a store row (or anything else that has them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Self


class _Copied:
    __slots__ = ()

    @classmethod
    def of(cls, row: Any, **given: Any) -> Self:
        """A record of ``row``'s fields of the same names; ``given`` ones as given."""
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        return cls(**{name: given[name] if name in given else getattr(row, name) for name in names})


@dataclass(frozen=True, slots=True)
class JobFacts(_Copied):
    """A finished outgoing fax, as its status report tells it."""

    id: int
    state: str
    number: str
    recipient_name: str
    subject: str
    page_count: int
    pages_done: int
    tries: int
    dials: int
    status: str
    last_cause: str | None
    created_at: datetime | None
    completed_at: datetime | None
    message_id: str = ""  # of the sender's message, to thread the report to


@dataclass(frozen=True, slots=True)
class CallFacts(_Copied):
    """One call (attempt) of a job."""

    line: str
    started_at: datetime | None
    ended_at: datetime | None
    remote_id: str
    bit_rate: int
    encoding: str
    ecm: bool
    pages_sent: int
    pages_total: int
    result: str | None
    message: str


@dataclass(frozen=True, slots=True)
class JobReport:
    """All a status report shows: the job, its calls, and its first page (TIFF) if any."""

    job: JobFacts
    calls: list[CallFacts] = field(default_factory=list)
    first_page: bytes | None = None


@dataclass(frozen=True, slots=True)
class InboundFacts(_Copied):
    """A received fax, as the message delivering it tells it."""

    id: int
    state: str
    line: str
    caller_number: str
    caller_name: str
    called_number: str
    remote_id: str
    started_at: datetime | None
    ended_at: datetime | None
    pages: int
    bit_rate: int
    encoding: str
    ecm: bool
    result: str | None
    message: str


@dataclass(frozen=True, slots=True)
class ReceivedFax:
    """A received fax and its pages (TIFF, one or more images each), in order."""

    fax: InboundFacts
    pages: list[bytes] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ReceivedVoice:
    """A voice message: the call it came on (an inbound row of kind "voice") and its audio,
    a WAV file, ``seconds`` long."""

    call: InboundFacts
    wav: bytes
    seconds: float
