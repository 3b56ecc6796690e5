"""Exchange Server through EWS (exchangelib): faxes from a mailbox (:class:`ExchangeIntake`)
and received faxes and reports into users' mailboxes (:class:`ExchangeDelivery`).

Intake follows the contract of :mod:`umfax.mail.intake`, like the IMAP connector: each
item of the watched folder is fetched as MIME (``MimeContent``, where Exchange writes
recipients of routing type FAX as ``IMCEAFAX-…`` or ``[FAX:…]`` addresses), handed to
``accept`` with its EWS ItemId as position, and only once ``accept`` has returned is it
moved: to ``processed_folder`` when jobs were committed, to ``refused_folder`` when the
sender was refused or nothing could be faxed.  If ``accept`` raises, nothing was
committed: the item stays and is tried again after a backoff.  A crash between commit
and move is harmless: the core answers ``DUPLICATE`` the next time (same ItemId, or the
same Message-ID from the same sender) and the item is then moved.

New items are announced by an EWS pull subscription on the folder (events fetched every
``poll_interval``) where the server offers one, and the folder is then searched (FindItem,
ids only); a full search runs every ``full_scan_interval`` anyway, so a lost event costs
latency, never a message.  Without a subscription the folder is searched every
``poll_interval``.  exchangelib is blocking: one thread per connector.

Events come in pages (Exchange answers ``MoreEvents=true`` after 50 or so); each GetEvents
is sent here with the last watermark the server returned, as EWS requires.  exchangelib's
``Folder.get_events`` re-sends the first watermark instead, which on a paging server reads
the same page forever.  At most :data:`EVENTS_PER_PASS` events are read per pass: a longer
backlog is left behind (a new subscription replaces the old one) and the folder is scanned.
"""

from __future__ import annotations

import email.policy
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from typing import Any
from urllib.parse import urlsplit

import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    OAUTH2,
    Account,
    Configuration,
    Credentials,
    ExtendedProperty,
    FailFast,
    Identity,
    Message,
    OAuth2Credentials,
)
from exchangelib import errors as ews_errors
from exchangelib.folders import Folder
from exchangelib.protocol import BaseProtocol
from exchangelib.services import GetEvents

from connectors.intake_thread import IntakeThread, RetrySchedule
from umfax.config import EwsAccountConfig, ExchangeConnectorConfig, ExchangeDeliveryConfig, secret
from umfax.errors import MAX_ERROR_TEXT, ConnectorError, UmfaxError, shorten
from umfax.errors import describe_error as describe_any_error
from umfax.mail.ports import IntakeResult, MailRef

logger = logging.getLogger(__name__)

Accept = Callable[[bytes, MailRef], IntakeResult]

#: The message class Outlook shows as a fax (MS-OXOUM 2.2.2.1: PidTagMessageClass of faxes).
FAX_ITEM_CLASS = "IPM.Note.Microsoft.Fax.CA"
#: The message class Outlook shows as a voice message with its audio attached, in the
#: voicemail form with a player (MS-OXOUM 2.2.2.1).
VOICE_ITEM_CLASS = "IPM.Note.Microsoft.Voicemail.UM.CA"
WAIT_TICK = 0.25  # how often a waiting thread looks whether stop() was called
PAGE_SIZE = 100  # item ids per FindItem page
DETAIL_TEXT = 120  # characters of a library's message inside one of our sentences
EVENTS_PER_PASS = 500  # events read per pass at most; past that a full scan is cheaper

_AUTH = {"ntlm": NTLM, "basic": BASIC, "oauth": OAUTH2}


class MessageClassProperty(ExtendedProperty):  # type: ignore[misc]  # exchangelib is untyped
    """PidTagMessageClass (0x001A, PT_UNICODE): exchangelib's ``item_class`` is read-only, so
    the class of a created item is set through the MAPI property itself."""

    property_tag = 0x001A
    property_type = "String"


MESSAGE_CLASS_FIELD = "umfax_message_class"
if MESSAGE_CLASS_FIELD not in {f.name for f in Message.FIELDS}:
    Message.register(MESSAGE_CLASS_FIELD, MessageClassProperty)


def item_class_for(message: bytes, default: str) -> str:
    """The message class to create ``message`` with: a voice message (``Message-Context:
    voice-message``, RFC 3458) is a voicemail item; anything else ``default``."""
    headers = BytesHeaderParser(policy=email.policy.default).parsebytes(message)
    context = str(headers.get("Message-Context", "")).strip().lower()
    return VOICE_ITEM_CLASS if context == "voice-message" else default


# -- TLS -------------------------------------------------------------------------------------

_TLS_RULES: dict[str, bool | str] = {}  # "host:port" -> requests' verify (False, or a CA bundle)
_TLS_LOCK = threading.Lock()


class _PerHostTlsAdapter(requests.adapters.HTTPAdapter):
    """exchangelib takes one adapter class for the whole process; this one applies each
    endpoint's own ``tls_verify``/``ca_file`` and verifies everything else as usual."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        rule = _TLS_RULES.get(f"{parts.hostname}:{parts.port or 443}".lower())
        if rule is not None and parts.scheme == "https":
            kwargs["verify"] = rule
        return super().send(request, *args, **kwargs)


def _tls_for(cfg: EwsAccountConfig) -> None:
    """Register the endpoint's TLS rule (verified against the system CAs by default)."""
    if cfg.tls_verify and cfg.ca_file is None:
        return
    if not cfg.url:
        raise ConnectorError("tls_verify = false and ca_file need url (they do not apply to autodiscover)")
    parts = urlsplit(cfg.url)
    rule: bool | str = str(cfg.ca_file) if cfg.tls_verify and cfg.ca_file else False
    with _TLS_LOCK:
        _TLS_RULES[f"{parts.hostname}:{parts.port or 443}".lower()] = rule
        if not issubclass(BaseProtocol.HTTP_ADAPTER_CLS, _PerHostTlsAdapter):
            BaseProtocol.HTTP_ADAPTER_CLS = _PerHostTlsAdapter


# -- accounts --------------------------------------------------------------------------------


def _credentials(cfg: EwsAccountConfig, key: str, mailbox: str) -> Credentials | OAuth2Credentials:
    if cfg.auth == "oauth":
        return OAuth2Credentials(
            client_id=cfg.client_id,
            client_secret=secret(cfg.client_secret_env, f"{key}.client_secret_env"),
            tenant_id=cfg.tenant_id,
            identity=Identity(primary_smtp_address=mailbox),
        )
    return Credentials(cfg.username, secret(cfg.password_env, f"{key}.password_env"))


def open_account(cfg: EwsAccountConfig, mailbox: str, key: str) -> Account:
    """An exchangelib Account for ``mailbox`` (nothing is sent yet except, without
    ``url``, autodiscover).  Raises :class:`ConnectorError`."""
    _tls_for(cfg)
    credentials = _credentials(cfg, key, mailbox)
    access = IMPERSONATION if cfg.impersonation else DELEGATE
    try:
        if cfg.url:
            config = Configuration(
                service_endpoint=cfg.url,
                credentials=credentials,
                auth_type=_AUTH[cfg.auth],
                retry_policy=FailFast(),
                max_connections=2,
            )
            return Account(mailbox, config=config, autodiscover=False, access_type=access)
        config = Configuration(credentials=credentials, auth_type=_AUTH[cfg.auth], retry_policy=FailFast())
        return Account(mailbox, config=config, autodiscover=True, access_type=access)
    except Exception as exc:
        raise ConnectorError(f"EWS for {mailbox}: {describe_error(exc, cfg)}") from exc


def describe_error(exc: BaseException, cfg: EwsAccountConfig | None = None) -> str:
    """A short, plain description of an EWS error (never a secret), bounded as
    :func:`umfax.errors.describe_error` bounds any error text."""
    return shorten(_explain(exc, cfg), MAX_ERROR_TEXT)


def _detail(exc: BaseException) -> str:
    """The library's own words, short enough to leave room for the advice around them."""
    return shorten(str(exc), DETAIL_TEXT)


def _explain(exc: BaseException, cfg: EwsAccountConfig | None) -> str:
    who = ""
    if cfg is not None:
        who = cfg.client_id if cfg.auth == "oauth" else cfg.username
    if isinstance(exc, UmfaxError):
        return str(exc)
    if isinstance(exc, ews_errors.UnauthorizedError):
        return (
            f"login as {who or 'the configured account'} refused ({cfg.auth if cfg else 'auth'}): "
            "check the username, the password in the environment variable, and auth"
        )
    if isinstance(exc, ews_errors.ErrorImpersonateUserDenied):
        return (
            f"{who} may not impersonate this mailbox: assign it the ApplicationImpersonation role "
            "(see docs/exchange.md), or set impersonation = false and grant it full access"
        )
    if isinstance(exc, ews_errors.ErrorAccessDenied | ews_errors.ErrorNonExistentMailbox):
        return f"access denied or no such mailbox ({_detail(exc)})"
    if isinstance(exc, ews_errors.AutoDiscoverFailed):
        return f"autodiscover failed ({_detail(exc)}); set url to the EWS endpoint"
    if _tls_failure(exc):
        return (
            f"TLS certificate not trusted ({_detail(exc)}); "
            "set ca_file to the CA that signed the server's certificate"
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection failed (is the EWS url right and the server up?)"
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError):
        return "timed out waiting for the server"
    if type(exc) is ews_errors.TransportError:
        return f"transport error: {_detail(exc)}"
    return describe_any_error(exc)  # an EWSError's class name is the server's ResponseCode


def _tls_failure(exc: BaseException) -> bool:
    """Whether a certificate check failed somewhere under ``exc`` (exchangelib wraps it)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, requests.exceptions.SSLError | ssl.SSLError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def find_folder(account: Account, path: str, *, create: bool) -> Folder:
    """``Inbox`` (the well-known folder, in any language) or a ``/`` path of display names
    from the top of the mailbox; created when missing and ``create``."""
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts:
        raise ConnectorError("an empty folder name")
    if parts[0].lower() == "inbox":
        current: Folder = account.inbox
        parts = parts[1:]
    else:
        current = account.msg_folder_root
    for part in parts:
        try:
            current = current // part
        except ews_errors.ErrorFolderNotFound:
            if not create:
                raise ConnectorError(
                    f"mailbox {account.primary_smtp_address} has no folder {path!r}"
                ) from None
            folder = Folder(parent=current, name=part)
            try:
                folder.save()
            except ews_errors.ErrorFolderExists:  # created by someone else meanwhile
                folder = current // part
            logger.info("created folder", extra={"mailbox": account.primary_smtp_address, "folder": path})
            current = folder
    return current


def _close(account: Account | None) -> None:
    if account is None:
        return
    try:
        account.protocol.close()
    except Exception:  # closing a broken session: nothing more to do
        return


# -- intake ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Subscription:
    id: str
    watermark: str


#: Events that may mean a new item in the watched folder.
_EVENT_TYPES = ("NewMailEvent", "CreatedEvent", "MovedEvent", "CopiedEvent")


@dataclass(slots=True)
class _Folders:
    watched: Folder
    processed: Folder
    refused: Folder


class ExchangeIntake(IntakeThread):
    """One Exchange folder watched by one thread: new items go to ``accept``.

    ``start()``/``stop()``/``health()`` from :class:`IntakeThread`; ``check()`` logs in
    and opens the folders once."""

    kind = "exchange"
    events_per_pass = EVENTS_PER_PASS  # an attribute, so a test can lower it

    def __init__(
        self, config: ExchangeConnectorConfig, accept: Accept, *, backoff_start: float = 1.0
    ) -> None:
        super().__init__(
            config.label,
            f"{config.mailbox.lower()}/{config.folder}",
            backoff_start=backoff_start,
            reconnect_max=config.reconnect_max,
        )
        self.config = config
        self._accept = accept
        self._retries = RetrySchedule()
        self._next_retry: float | None = None

    def _retrying(self) -> int:
        return len(self._retries)

    def _describe(self, exc: BaseException) -> str:
        return describe_error(exc, self.config)

    def _expected(self, exc: BaseException) -> bool:
        return isinstance(exc, UmfaxError | ews_errors.EWSError | requests.RequestException | OSError)

    def check(self) -> None:
        """Log in and open the folders once; raises :class:`ConnectorError`."""
        with self._session(track=False):
            pass

    # -- the thread -------------------------------------------------------------------------

    def _session_cycle(self) -> None:
        with self._session() as (account, folders):
            self._serve(account, folders)

    @contextmanager
    def _session(self, track: bool = True) -> Iterator[tuple[Account, _Folders]]:
        cfg = self.config
        key = f"connectors[{self.label}]"
        account = open_account(cfg, cfg.mailbox, key)
        try:
            try:
                folders = _Folders(
                    watched=find_folder(account, cfg.folder, create=False),
                    processed=find_folder(account, cfg.processed_folder, create=True),
                    refused=find_folder(account, cfg.refused_folder, create=True),
                )
            except UmfaxError:
                raise
            except Exception as exc:
                raise ConnectorError(
                    f"EWS {cfg.url or '(autodiscover)'} mailbox {cfg.mailbox}: {describe_error(exc, cfg)}"
                ) from exc
            if track:
                with self._lock:
                    self._connected = True
                logger.info(
                    "exchange intake connected", extra={"connector": self.label, "mailbox": self.mailbox}
                )
            yield account, folders
        finally:
            if track:
                with self._lock:
                    self._connected = False
            _close(account)

    def _serve(self, account: Account, folders: _Folders) -> None:
        """Scan, then wait for events (pull subscription) or the next poll, and again.

        The subscription is made before the first scan, so an item arriving during the
        scan is announced afterwards; a full scan still runs every ``full_scan_interval``
        in case an event was lost.  A lost subscription (expired, server restarted) ends
        the session: the next one subscribes anew and scans.  A backlog of events longer
        than one pass reads is not read: a new subscription replaces the old one and the
        folder is scanned."""
        cfg = self.config
        subscription = self._subscribe(folders) if cfg.pull_notifications else None
        with self._lock:
            self._mode = "pull" if subscription else "poll"
        interval = max(0.05, cfg.poll_interval)
        rescan = max(interval, cfg.full_scan_interval) if subscription else interval
        news, next_full = True, 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            due: float | None = None
            if news or now >= next_full or (self._next_retry is not None and now >= self._next_retry):
                due = self._scan(account, folders)
                self._next_retry = due
                next_full = time.monotonic() + rescan
            self._cycle_ok = True
            wait = min(interval, max(0.0, next_full - time.monotonic()))
            if self._next_retry is not None:
                wait = min(wait, max(0.0, self._next_retry - time.monotonic()))
            if self._stop.wait(wait):
                return
            if subscription is None:
                continue
            news, backlog = self._events(account, folders, subscription)
            if backlog:
                subscription = self._resubscribe(folders, subscription)
                news = True

    def _subscribe(self, folders: _Folders) -> _Subscription | None:
        """A pull subscription on the watched folder, or None when the server offers none."""
        minutes = min(1440, max(1, int(self.config.poll_interval * 3 / 60) + 1))
        try:
            found = folders.watched.subscribe_to_pull(event_types=_EVENT_TYPES, timeout=minutes)
        except Exception as exc:  # not offered, or not allowed: polling works everywhere
            logger.info(
                "no pull subscription; polling",
                extra={"connector": self.label, "error": describe_error(exc, self.config)},
            )
            return None
        subscription_id, watermark = found if isinstance(found, tuple) else (None, None)
        if not subscription_id or not watermark:
            return None
        return _Subscription(str(subscription_id), str(watermark))

    def _resubscribe(self, folders: _Folders, old: _Subscription) -> _Subscription:
        """A new subscription in place of one with a backlog too long to read (made before
        the full scan that follows, so nothing arriving meanwhile goes unannounced)."""
        new = self._subscribe(folders)
        if new is None:
            raise ConnectorError("the pull subscription could not be renewed")
        logger.info(
            "event backlog left for a full scan",
            extra={"connector": self.label, "events_per_pass": self.events_per_pass},
        )
        try:
            folders.watched.unsubscribe(old.id)
        except Exception as exc:  # it expires by itself in a few minutes
            logger.debug(
                "old subscription not ended", extra={"connector": self.label, "error": describe_error(exc)}
            )
        return new

    def _events(self, account: Account, folders: _Folders, subscription: _Subscription) -> tuple[bool, bool]:
        """Read the events since the subscription's watermark, page by page: (news, backlog).

        ``news``: an item may have arrived in the watched folder.  Each GetEvents asks from
        the last watermark returned (the subscription's watermark advances with every
        event).  ``backlog``: more events wait than one pass reads (or the server said
        MoreEvents without moving the watermark); the caller scans the folder instead.
        Raises when the subscription is gone (the session then starts over)."""
        service = GetEvents(account=account)
        news, read = False, 0
        while True:
            start = subscription.watermark
            notification = service.get(subscription_id=subscription.id, watermark=start)
            for event in notification.events or ():
                read += 1
                if event.watermark:
                    subscription.watermark = event.watermark
                if type(event).__name__ in _EVENT_TYPES:
                    parent = getattr(event, "parent_folder_id", None)
                    if parent is None or parent.id == folders.watched.id:
                        news = True
            if not notification.more_events:
                return news, False
            if self._stop.is_set():
                return news, False
            if read >= self.events_per_pass or subscription.watermark == start:
                return news, True

    # -- finding and handling items ---------------------------------------------------------

    def _item_ids(self, folders: _Folders) -> list[str]:
        query = folders.watched.all().only("id", "changekey")
        query.page_size = PAGE_SIZE
        return [item.id for item in query if not isinstance(item, Exception)]

    def _scan(self, account: Account, folders: _Folders) -> float | None:
        """Handle every item that is due; the monotonic time of the next retry, if any."""
        ids = self._item_ids(folders)
        now = time.monotonic()
        with self._lock:
            self._last_poll = datetime.now(UTC)
            self._retries.keep_only(set(ids))
        for item_id in ids:
            if self._stop.is_set() or self._retries.held(time.monotonic()):
                break
            if self._retries.due(item_id, now):
                self._handle(account, folders, item_id)
        return self._retries.next_due()

    def _handle(self, account: Account, folders: _Folders, item_id: str) -> None:
        fetched = list(account.fetch(ids=[(item_id, None)], only_fields=["mime_content"]))
        item = fetched[0] if fetched else None
        if item is None or isinstance(item, ews_errors.ErrorItemNotFound):
            return  # moved or deleted meanwhile by someone else
        if isinstance(item, Exception):
            raise item
        raw = item.mime_content
        if not raw:
            raise ConnectorError(f"the server returned no MIME content for item {item_id[:40]}…")
        data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        ref = MailRef(connector=self.label, mailbox=self.mailbox, item_id=item_id)
        try:
            result = self._accept(data, ref)
        except Exception as exc:
            self._accept_failed(item_id, exc)
            return
        with self._lock:
            self._retries.forget(item_id)
        target = folders.refused if result.refused else folders.processed
        item.move(target)
        self._handed_over(result, target.name)

    def _accept_failed(self, item_id: str, exc: Exception) -> None:
        attempts, delay = self._schedule_retry(self._retries, item_id, exc)
        error = describe_error(exc, self.config)
        self._note_error(f"item {item_id[:40]}…: {error}")
        logger.warning(
            "mail not accepted; left in the folder for another try",
            extra={"connector": self.label, "attempt": attempts, "retry_in": round(delay, 2), "error": error},
            exc_info=not isinstance(exc, UmfaxError),
        )


# -- delivery --------------------------------------------------------------------------------


class ExchangeDelivery:
    """Creates messages (received faxes, reports) in users' mailboxes through EWS, as
    fax items (:data:`FAX_ITEM_CLASS`; voice messages as :data:`VOICE_ITEM_CLASS`), with
    the service account of ``[mail.exchange]`` impersonating each user.  Thread-safe: one Account per call."""

    def __init__(self, config: ExchangeDeliveryConfig, *, item_class: str = FAX_ITEM_CLASS) -> None:
        self.config = config
        self.item_class = item_class

    def deliver(self, email: str, message: bytes, *, folder: str = "Inbox") -> str:
        """Create ``message`` (RFC 5322 bytes) in ``folder`` of ``email``'s mailbox (the
        folder is created when missing); the new item's id.  Raises :class:`ConnectorError`."""
        cfg = self.config
        item_class = item_class_for(message, self.item_class)
        account = open_account(cfg, email, "mail.exchange")
        try:
            target = find_folder(account, folder, create=True)
            item = Message(account=account, folder=target, mime_content=message)
            setattr(item, MESSAGE_CLASS_FIELD, item_class)
            item.save()
        except UmfaxError:
            raise
        except Exception as exc:
            raise ConnectorError(
                f"EWS delivery to {email} folder {folder!r}: {describe_error(exc, cfg)}"
            ) from exc
        logger.info(
            "mail delivered by EWS",
            extra={"recipient": email, "folder": folder, "size": len(message), "item_class": item_class},
        )
        return str(item.id)
