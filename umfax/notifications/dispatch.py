"""The dispatcher: delivers outbox rows (reports, received faxes and voice messages,
replies) at least once.

It reads what each row needs from the store and hands its destination plain data
(:mod:`~umfax.notifications.ports`): destinations are given to it, never imported here
(:mod:`umfax.composition` wires them from the configuration).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Literal, overload

from umfax.config import Config, UserConfig
from umfax.conversion import ConversionError
from umfax.directory import UserDirectory
from umfax.errors import ConnectorError, UmfaxError, describe_error
from umfax.notifications import reports, voicemail
from umfax.notifications.facts import (
    CallFacts,
    InboundFacts,
    JobFacts,
    JobReport,
    ReceivedFax,
    ReceivedVoice,
)
from umfax.notifications.ports import (
    FolderDrop,
    FolderWriter,
    MailboxAppender,
    MailSender,
    TextNotice,
    TwilioFaxNotice,
    Undeliverable,
    WebhookNotice,
)
from umfax.store import Store
from umfax.store.models import Inbound, Outbox, utcnow
from umfax.store.outbox import OutboxStore

logger = logging.getLogger(__name__)

#: Delay before each retry of a failed delivery; after the last, the row is dead.
RETRY_DELAYS = (10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 3 * 3600.0)
LEASE = 300.0

__all__ = [
    "LEASE",
    "NOTICES",
    "RETRY_DELAYS",
    "Dispatcher",
    "MailSender",
    "MailboxAppender",
    "Undeliverable",
    "load_job_report",
    "load_received_fax",
    "load_received_voice",
]


def _webhook(store: Store, item: Outbox) -> WebhookNotice:
    payload = item.payload or {}
    return WebhookNotice(item.target, payload["event"], str(payload.get("secret", "")))


def _text(store: Store, item: Outbox) -> TextNotice:
    payload = item.payload or {}
    return TextNotice(item.target, str(payload["body"]))


def _twilio_fax(store: Store, item: Outbox) -> TwilioFaxNotice:
    payload = item.payload or {}
    params = {str(k): str(v) for k, v in payload["params"].items()}
    job = store.get_job(int(payload["job"]))
    sealed = (job.notify or {}).get("twilio", {}).get("key", "")
    return TwilioFaxNotice(item.target, params, sealed)


#: Registered channels: outbox channel -> how its plain notice is read from a row.
NOTICES: dict[str, Callable[[Store, Outbox], Any]] = {
    "webhook": _webhook,
    "sms": _text,
    "twilio_fax": _twilio_fax,
}


def load_job_report(store: Store, job_id: int) -> JobReport:
    """What a status report on ``job_id`` shows, read from the store."""
    job = store.get_job(job_id)
    calls = [CallFacts.of(a) for a in store.attempts(job_id)]
    pages = store.pages(job_id)
    return JobReport(
        JobFacts.of(job, message_id=str((job.notify or {}).get("message_id", ""))),
        calls,
        pages[0].data if pages else None,
    )


def load_received_fax(store: Store, inbound_id: int) -> ReceivedFax:
    """A received fax and its pages, read from the store."""
    fax = store.get_inbound(inbound_id)
    return ReceivedFax(InboundFacts.of(fax), [page.data for page in store.inbound_pages(fax.id)])


def load_received_voice(store: Store, inbound_id: int, call: Inbound | None = None) -> ReceivedVoice:
    """A voice message (an inbound row of kind "voice", ``call`` if already read) and its
    audio, read from the store; ``Undeliverable`` when the audio is gone (deleted)."""
    call = call or store.get_inbound(inbound_id)
    audio = store.inbound_audio(inbound_id)
    if audio is None:
        raise Undeliverable(f"voice message {inbound_id} has no audio (deleted?)")
    return ReceivedVoice(InboundFacts.of(call), audio.wav, audio.seconds)


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
        folder: FolderWriter | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        self.store = store
        self.outbox = OutboxStore(store)
        self.config = config
        self.worker = worker
        self.smtp = smtp
        self.folder = folder
        # delivery = "imap", "exchange" (EWS), "graph": where users' messages are created
        self.mailboxes: dict[str, MailboxAppender | None] = {
            "imap": imap,
            "exchange": exchange,
            "graph": graph,
        }
        self.poll_interval = poll_interval
        self.users_by_email = {u.email.lower(): u for u in config.users}
        self.users_by_name: Mapping[str, UserConfig] = UserDirectory(config, store)
        self._wake = threading.Event()
        self._channels: dict[str, Callable[[Outbox], None]] = {}

    @overload
    def register(self, channel: Literal["webhook"], deliver: Callable[[WebhookNotice], None]) -> None: ...
    @overload
    def register(self, channel: Literal["sms"], deliver: Callable[[TextNotice], None]) -> None: ...
    @overload
    def register(
        self, channel: Literal["twilio_fax"], deliver: Callable[[TwilioFaxNotice], None]
    ) -> None: ...
    def register(self, channel: str, deliver: Callable[[Any], None]) -> None:
        """Deliver outbox rows of ``channel`` with ``deliver`` (webhooks, SMS...), given the
        row's plain notice: it returns when the notice is delivered, or raises
        ``Undeliverable`` (no retry helps) or another ``UmfaxError``/``OSError`` (retried
        with backoff, see ``RETRY_DELAYS``)."""
        load = NOTICES[channel]
        self._channels[channel] = lambda item: deliver(load(self.store, item))

    def wake(self) -> None:
        """Something was added: look now instead of at the next poll."""
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                worked = self.run_once()
            except UmfaxError as exc:
                logger.error("outbox unavailable", extra={"error": describe_error(exc)})
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
            self.outbox.failed(item.id, self.worker, describe_error(exc), retry_at)
            log = logger.warning if retry_at else logger.error
            log(
                "notice not delivered" + ("; will retry" if retry_at else "; gave up"),
                extra={
                    "outbox": item.id,
                    "origin": item.origin,
                    "channel": item.channel,
                    "target": item.target,
                    "tries": item.tries,
                    "error": describe_error(exc),
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
            report = load_job_report(self.store, int(payload["job"]))
            out = reports.job_report(self.config, report, item.target, item.id)
            self._to_user(user, item.target, out, item)
        elif item.channel == "inbound":
            user = self.users_by_name.get(item.target)
            if user is None:
                raise Undeliverable(f"user {item.target!r} is no longer in [[users]] nor a console user")
            out = self._inbound(int(payload["inbound"]), user.email, item.id)
            self._to_user(user, user.email, out, item)
        elif item.channel == "forward":  # a received item forwarded to an address from the console
            self._smtp(self._inbound(int(payload["inbound"]), item.target, item.id))
        elif item.channel == "smtp":
            out = reports.refusal(self.config, payload, item.id)
            self._smtp(out)
        elif item.channel in self._channels:
            self._channels[item.channel](item)
        else:
            raise Undeliverable(f"unknown outbox channel {item.channel!r}")

    def _inbound(self, inbound_id: int, to: str, outbox_id: int) -> reports.Outgoing:
        """The message delivering a received fax, or a voice message (kind "voice")."""
        call = self.store.get_inbound(inbound_id)
        if call.kind == "voice":
            voice = load_received_voice(self.store, inbound_id, call)
            return voicemail.voice_message(self.config, voice, to, outbox_id)
        return reports.inbound_fax(self.config, load_received_fax(self.store, inbound_id), to, outbox_id)

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
            if self.folder is None:
                raise Undeliverable("delivery = 'folder' has no folder writer")
            self.folder.deliver(FolderDrop(user.folder, out.message, item.origin, item.created_at))
        else:
            self._smtp(out)

    def _smtp(self, out: reports.Outgoing) -> None:
        if self.smtp is None:
            raise Undeliverable("no outgoing mail server: set [mail] smtp_host")
        self.smtp.send(out.message, envelope_from=out.envelope_from)
