"""The dispatcher: delivers outbox rows (reports, received faxes, replies) at least once."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from umfax.config import Config, UserConfig
from umfax.conversion import ConversionError
from umfax.errors import ConnectorError, UmfaxError
from umfax.notifications import reports
from umfax.store import Store
from umfax.store.models import Outbox, utcnow
from umfax.store.outbox import OutboxStore

logger = logging.getLogger(__name__)

#: Delay before each retry of a failed delivery; after the last, the row is dead.
RETRY_DELAYS = (10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 3 * 3600.0)
LEASE = 300.0


class MailSender(Protocol):
    def send(self, message: EmailMessage, *, envelope_from: str | None = None) -> object: ...


class MailboxAppender(Protocol):
    def deliver(self, email: str, message: bytes, *, folder: str = "INBOX") -> object: ...


class Undeliverable(UmfaxError):
    """A notice that cannot be delivered as configured (no retry helps)."""


class Dispatcher:
    def __init__(
        self,
        store: Store,
        config: Config,
        worker: str,
        *,
        smtp: MailSender | None = None,
        imap: MailboxAppender | None = None,
        exchange: MailboxAppender | None = None,
        graph: MailboxAppender | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        self.store = store
        self.outbox = OutboxStore(store)
        self.config = config
        self.worker = worker
        self.smtp = smtp
        # delivery = "imap", "exchange" (EWS), "graph": where users' messages are created
        self.mailboxes: dict[str, MailboxAppender | None] = {
            "imap": imap,
            "exchange": exchange,
            "graph": graph,
        }
        self.poll_interval = poll_interval
        self.users_by_email = {u.email.lower(): u for u in config.users}
        self.users_by_name = {u.name: u for u in config.users}
        self._wake = threading.Event()
        self._channels: dict[str, Callable[[Outbox], None]] = {}

    def register(self, channel: str, deliver: Callable[[Outbox], None]) -> None:
        """Deliver outbox rows of ``channel`` with ``deliver`` (webhooks, SMS...): it returns
        when the row is delivered, or raises ``Undeliverable`` (no retry helps) or another
        ``UmfaxError``/``OSError`` (retried with backoff, see ``RETRY_DELAYS``)."""
        self._channels[channel] = deliver

    def wake(self) -> None:
        """Something was added: look now instead of at the next poll."""
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                worked = self.run_once()
            except UmfaxError as exc:
                logger.error("outbox unavailable", extra={"error": str(exc)})
                worked = 0
            if not worked:
                self._wake.wait(self.poll_interval)
                self._wake.clear()

    def run_once(self) -> int:
        items = self.outbox.claim(self.worker, LEASE)
        for item in items:
            self._deliver_one(item)
        return len(items)

    def _deliver_one(self, item: Outbox) -> None:
        try:
            self.deliver(item)
        except (ConnectorError, ConversionError, Undeliverable, UmfaxError, OSError) as exc:
            temporary = getattr(exc, "temporary", True) and not isinstance(exc, Undeliverable)
            last = item.tries > len(RETRY_DELAYS)
            retry_at = (
                None
                if (last or not temporary)
                else utcnow() + timedelta(seconds=RETRY_DELAYS[item.tries - 1])
            )
            self.outbox.failed(item.id, self.worker, str(exc), retry_at)
            log = logger.warning if retry_at else logger.error
            log(
                "notice not delivered" + ("; will retry" if retry_at else "; gave up"),
                extra={
                    "outbox": item.id,
                    "origin": item.origin,
                    "channel": item.channel,
                    "target": item.target,
                    "tries": item.tries,
                    "error": str(exc),
                },
            )
            return
        self.outbox.done(item.id, self.worker)
        logger.info(
            "notice delivered",
            extra={"outbox": item.id, "origin": item.origin, "channel": item.channel, "target": item.target},
        )

    # -- what to send, and how ------------------------------------------------------------

    def deliver(self, item: Outbox) -> None:
        payload = item.payload or {}
        if item.channel == "report":
            user = self.users_by_email.get(item.target.lower())
            out = reports.job_report(self.store, self.config, int(payload["job"]), item.target, item.id)
            self._to_user(user, item.target, out, item)
        elif item.channel == "inbound":
            user = self.users_by_name.get(item.target)
            if user is None:
                raise Undeliverable(f"user {item.target!r} is no longer in [[users]]")
            fax = self.store.get_inbound(int(payload["inbound"]))
            out = reports.inbound_fax(self.store, self.config, fax, user.email, item.id)
            self._to_user(user, user.email, out, item)
        elif item.channel == "smtp":
            out = reports.refusal(self.config, payload, item.id)
            self._smtp(out)
        elif item.channel in self._channels:
            self._channels[item.channel](item)
        else:
            raise Undeliverable(f"unknown outbox channel {item.channel!r}")

    def _to_user(self, user: UserConfig | None, address: str, out: reports.Outgoing, item: Outbox) -> None:
        delivery = user.delivery if user is not None else "smtp"
        if delivery == "none":
            return
        if delivery in self.mailboxes:
            assert user is not None
            appender = self.mailboxes[delivery]
            if appender is None:
                raise Undeliverable(f"delivery = {delivery!r} needs [mail.{delivery}]")
            appender.deliver(user.email, bytes(out.message), folder=getattr(user, f"{delivery}_folder"))
        elif delivery == "folder":
            assert user is not None and user.folder is not None
            self._folder(user.folder, out, item)
        else:
            self._smtp(out)

    def _smtp(self, out: reports.Outgoing) -> None:
        if self.smtp is None:
            raise Undeliverable("no outgoing mail server: set [mail] smtp_host")
        self.smtp.send(out.message, envelope_from=out.envelope_from)

    @staticmethod
    def _folder(folder: Path, out: reports.Outgoing, item: Outbox) -> None:
        """Write the message (and its PDF) into ``folder``, atomically, named by the
        outbox row so that a repeated delivery overwrites instead of duplicating."""
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{item.created_at:%Y%m%d-%H%M%S}-{re.sub(r'[^A-Za-z0-9]+', '-', item.origin).strip('-')}"
        files = {f"{stem}.eml": bytes(out.message)}
        for part in out.message.iter_attachments():
            if part.get_content_type() == "application/pdf":
                files[f"{stem}.pdf"] = part.get_payload(decode=True)  # type: ignore[assignment]
        for name, data in files.items():
            temp = folder / f".{name}.tmp"
            temp.write_bytes(data)
            os.replace(temp, folder / name)
