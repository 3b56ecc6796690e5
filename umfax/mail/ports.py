"""What mail connectors and the core hand each other, without the store.

A connector hands :meth:`~umfax.mail.intake.MailIntake.accept` the raw message and a
:class:`MailRef` saying where it came from, and gets an :class:`IntakeResult` back;
:class:`IntakeConnector` is what ``umfax serve`` starts, stops and asks for health.
Connectors import this module, never :mod:`umfax.store` (directly or through
:mod:`umfax.mail.intake`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class MailRef:
    """Where a message came from."""

    connector: str  # the connector's label
    mailbox: str = ""  # e.g. "fax@mail.example.com/INBOX"; empty for SMTP
    uidvalidity: int = 0
    uid: int = 0
    item_id: str = ""  # a server's own stable id for the message (EWS ItemId, Graph id), instead of a UID
    envelope_from: str | None = None  # SMTP MAIL FROM ("" for a bounce)
    envelope_to: tuple[str, ...] = ()  # SMTP RCPT TO, the recipients when given
    peer: str = ""  # the client's address, for logs

    @property
    def key(self) -> str | None:
        """The mailbox position that identifies this message across restarts."""
        if self.item_id:
            return f"{self.connector}|{self.mailbox}|{self.item_id}"[:700]
        if not self.uid:
            return None
        return f"{self.connector}|{self.mailbox}|{self.uidvalidity}|{self.uid}"


class Outcome(StrEnum):
    QUEUED = "queued"  # jobs committed
    REFUSED = "refused"  # the sender may not fax (told why, when that is safe)
    INVALID = "invalid"  # nothing faxable: no recipient, bad attachment… (sender told why)
    DUPLICATE = "duplicate"  # handled before; nothing new committed


@dataclass(frozen=True, slots=True)
class IntakeResult:
    outcome: Outcome
    job_ids: tuple[int, ...] = ()
    reason: str = ""  # for REFUSED/INVALID: what the sender was told

    @property
    def accepted(self) -> bool:
        return self.outcome in (Outcome.QUEUED, Outcome.DUPLICATE) and bool(self.job_ids)

    @property
    def refused(self) -> bool:
        """The message goes to the refused folder: refused, invalid, or refused before."""
        return self.outcome in (Outcome.REFUSED, Outcome.INVALID) or (
            self.outcome == Outcome.DUPLICATE and not self.job_ids
        )


#: What a connector calls with each message: ``accept(raw, ref)``.
Accept = Callable[[bytes, MailRef], IntakeResult]


class ConnectorHealth(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


class IntakeConnector(Protocol):
    """A running mail connector (IMAP, SMTP, EWS, Graph) as ``umfax serve`` sees it."""

    @property
    def label(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def health(self) -> ConnectorHealth: ...
