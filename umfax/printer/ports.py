"""What the fax printer (connectors/ipp) needs from umfax: the port it calls, the records it uses.

:class:`umfax.printer.faxes.StorePrinterPort` implements :class:`FaxOutPort` on the same path as the
REST API: dial rules, who may send, audit.  Nothing here knows the store."""

from __future__ import annotations

from collections.abc import Callable
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
        """``user``'s faxes, newest first: finished ones or those not finished."""

    def cancel(self, user: str, fax_id: int) -> str | None:
        """Cancel fax ``fax_id``; None when done, else why not."""


class PrinterEndpoint(Protocol):
    """The printer as the API's HTTP server calls it (connectors.ipp.endpoint.IppEndpoint)."""

    def respond(
        self,
        body: bytes,
        user: str | None,
        requesting_user: Callable[[str], str | None] | None,
        printer_uri: str,
    ) -> bytes | None:
        """The IPP response to ``body``; None when the request needs a signed-in user."""
