"""What the fax printer needs from umfax: the port it calls, and the plain records it uses.

The umfax side implements :class:`FaxOutPort` (umfax/printing.py) on the same path as the
REST API: dial rules, who may send, audit.  Nothing here knows the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

FaxState = Literal["pending", "processing", "completed", "aborted", "canceled"]


class RefusedNumber(Exception):
    """A destination the printer may not fax to; ``message`` is shown in the print dialog."""

    def __init__(self, message: str, *, blocked: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.blocked = blocked  # True: readable, but the dial rules forbid it


@dataclass(frozen=True, slots=True)
class FaxDestination:
    """One member of ``destination-uris``: the number as the tel: URI wrote it."""

    uri: str
    number: str  # the tel: URI's number, visual separators kept ("+1(555)123-4567")
    pre_dial: str = ""  # pre-dial-string, e.g. an outside-line code


@dataclass(frozen=True, slots=True)
class PrintedDocument:
    data: bytes
    format: str  # MIME type; "" when the client said application/octet-stream
    name: str = ""


@dataclass(frozen=True, slots=True)
class FaxStatus:
    """A fax job as the printer reports it."""

    fax_id: int
    state: FaxState
    user: str
    name: str = ""
    pages_sent: int = 0
    pages: int = 0  # 0: not known yet
    message: str = ""
    created: datetime | None = None
    started: datetime | None = None
    finished: datetime | None = None


class FaxOutPort(Protocol):
    def refusal(self, user: str) -> str | None:
        """Why ``user`` may not fax (None: they may)."""

    def check(self, user: str, destination: FaxDestination) -> str:
        """The number a fax to ``destination`` dials, or :class:`RefusedNumber`."""

    def submit(
        self, user: str, destinations: list[FaxDestination], documents: list[PrintedDocument], name: str
    ) -> list[int]:
        """Queue one fax per destination; their ids (raises :class:`RefusedNumber`)."""

    def status(self, user: str, fax_id: int) -> FaxStatus | None:
        """Fax ``fax_id`` if ``user`` may see it."""

    def jobs(self, user: str, *, finished: bool, limit: int) -> list[FaxStatus]:
        """``user``'s printed faxes, newest first: finished ones or those not finished."""

    def cancel(self, user: str, fax_id: int) -> str | None:
        """Cancel fax ``fax_id``; None when done, else why not."""
