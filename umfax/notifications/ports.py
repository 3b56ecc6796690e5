"""What the dispatcher hands its destinations: the interfaces they implement and the
plain payloads they receive.

The dispatcher reads the store; a destination (SMTP, a mailbox, a folder, a webhook,
Twilio) gets only the data of one notice, never the store or its rows.  Each raises
:class:`Undeliverable` when no retry can help, or another ``UmfaxError``/``OSError``
to be retried with backoff.  Connectors import this module, never :mod:`umfax.store`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from umfax.errors import UmfaxError


class Undeliverable(UmfaxError):
    """A notice that cannot be delivered as configured (no retry helps)."""


class MailSender(Protocol):
    """Outgoing mail (SMTP): reports to senders, refusal replies."""

    def send(self, message: EmailMessage, *, envelope_from: str | None = None) -> object: ...


class MailboxAppender(Protocol):
    """Puts a message straight into a user's mailbox (IMAP APPEND, EWS, Graph)."""

    def deliver(self, email: str, message: bytes, *, folder: str = "INBOX") -> object: ...


@dataclass(frozen=True, slots=True)
class FolderDrop:
    """A message to write into a local folder; ``origin`` and ``created_at`` name the
    files, so that delivering the same notice again overwrites instead of duplicating."""

    folder: Path
    message: EmailMessage
    origin: str
    created_at: datetime


class FolderWriter(Protocol):
    def deliver(self, drop: FolderDrop) -> None: ...


@dataclass(frozen=True, slots=True)
class WebhookNotice:
    """One signed JSON POST: ``event`` to ``url``, signed with the secret ``secret_ref``
    names ("callback", or "subscription:N")."""

    url: str
    event: Mapping[str, Any]
    secret_ref: str


@dataclass(frozen=True, slots=True)
class TextNotice:
    """One text message: ``body`` to ``to`` (E.164)."""

    to: str
    body: str


@dataclass(frozen=True, slots=True)
class TwilioFaxNotice:
    """Twilio Fax's StatusCallback: ``params`` form-posted to ``url``, signed with the API
    key the fax was sent with (``sealed_key``, as kept sealed on the job; "" if none)."""

    url: str
    params: Mapping[str, str]
    sealed_key: str
