"""IMAP: faxes from a mailbox (:class:`ImapIntake`) and received faxes into users'
mailboxes (:class:`ImapDelivery`).

Intake follows the contract of :mod:`umfax.mail.intake`: each message is fetched with
``BODY.PEEK[]`` (nothing is marked read), handed to ``accept``, and only once ``accept``
has returned is it moved (``processed = "move"``) or flagged (``processed = "flag"``).
Which messages are still to do is decided by where they are and by our own keyword,
never by ``\\Seen``: people read the fax mailbox.  If ``accept`` raises, nothing was
committed; the message stays untouched and is tried again after a backoff, while the
other messages go on.  A crash between commit and flag is harmless: the core answers
``DUPLICATE`` the next time and the message is then moved or flagged.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from imapclient import IMAPClient
from imapclient import exceptions as imap_errors
from imapclient.imapclient import SocketTimeout

from connectors.intake_thread import IntakeThread, RetrySchedule
from umfax.config import ImapConnectorConfig, ImapDeliveryConfig, secret
from umfax.errors import ConfigError, ConnectorError, UmfaxError
from umfax.mail.intake import IntakeResult, MailRef

logger = logging.getLogger(__name__)

TlsMode = Literal["implicit", "starttls", "none"]
Accept = Callable[[bytes, MailRef], IntakeResult]

DONE_KEYWORD = "$UmfaxDone"  # flag mode: the message has been handled
REFUSED_KEYWORD = "$UmfaxRefused"  # flag mode: ... and it was refused or invalid
FALLBACK_FLAGS = ("\\Flagged", "\\Seen")  # flag mode when the folder takes no keywords
WAIT_TICK = 0.25  # how often a waiting intake thread looks whether stop() was called
CATCH_UP = 0.3  # the first IDLE after a scan lasts this long (see ImapIntake._serve)
CONNECT_TIMEOUT = 15.0

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.IGNORECASE)


# -- connections ---------------------------------------------------------------------------


def tls_context(verify: bool = True, ca_file: Path | str | None = None) -> ssl.SSLContext:
    """A client TLS context: the system's CAs (or ``ca_file``), hostname checked."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def describe_error(exc: BaseException) -> str:
    """A short, plain description of a connection or protocol error (never a secret)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or exc.reason or str(exc)
        return (
            f"TLS certificate not trusted ({detail}); "
            "set ca_file to the CA that signed the server's certificate"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, UmfaxError):
        return str(exc)
    if isinstance(exc, imap_errors.LoginError):
        return f"login refused: {_server_text(exc)}"
    if isinstance(exc, imap_errors.IMAPClientAbortError):
        return f"connection lost: {_server_text(exc)}"
    if isinstance(exc, TimeoutError):
        return "timed out waiting for the server"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError):
        return f"connection failed: {exc.strerror or exc.__class__.__name__}"
    if isinstance(exc, imap_errors.IMAPClientError):
        return f"server error: {_server_text(exc)}"
    return f"{exc.__class__.__name__}: {exc}"


def _server_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or exc.__class__.__name__


def connect(
    host: str,
    port: int,
    tls: TlsMode,
    *,
    tls_verify: bool = True,
    ca_file: Path | str | None = None,
    timeout: float = 60.0,
) -> IMAPClient:
    """An IMAP connection, TLS set up per ``tls`` (not logged in).

    Raises :class:`ConnectorError` saying what failed, in plain words.
    """
    where = f"{host}:{port}"
    context = tls_context(tls_verify, ca_file) if tls != "none" else None
    client: IMAPClient | None = None
    try:
        client = IMAPClient(
            host,
            port,
            ssl=tls == "implicit",
            ssl_context=context if tls == "implicit" else None,
            timeout=SocketTimeout(min(CONNECT_TIMEOUT, timeout), timeout),
        )
        if tls == "starttls":
            if not client.has_capability("STARTTLS"):
                raise ConnectorError(f"IMAP server {where} does not offer STARTTLS; use tls = 'implicit'")
            client.starttls(context)
        return client
    except ConnectorError:
        _abandon(client)
        raise
    except Exception as exc:
        _abandon(client)
        raise ConnectorError(f"IMAP server {where}: {describe_error(exc)}") from exc


def _abandon(client: IMAPClient | None) -> None:
    """Close a connection without caring about its state."""
    if client is None:
        return
    try:
        client.shutdown()
    except Exception:  # already closed: nothing to do
        return


def _logout(client: IMAPClient, timeout: float = 2.0) -> None:
    try:
        client.socket().settimeout(timeout)
        client.logout()
    except Exception:  # a dead connection: just drop it
        _abandon(client)


class _XOAuth2:
    """SASL XOAUTH2: the token once; an empty reply to the server's error challenge."""

    def __init__(self, user: str, token: str) -> None:
        self._first = f"user={user}\1auth=Bearer {token}\1\1"
        self._sent = False

    def __call__(self, challenge: bytes) -> str:
        if self._sent:
            return ""
        self._sent = True
        return self._first


def _folder_exists_or_create(client: IMAPClient, folder: str) -> bool:
    """Create ``folder`` when missing and make sure it is subscribed (so that mail clients
    show it); True when it was created.

    The subscription is checked even when the folder exists: a session that created the
    folder and then lost its connection, or a folder someone else created, is subscribed
    by the next session that uses it."""
    if folder.upper() == "INBOX":
        return False
    created = False
    if not client.folder_exists(folder):
        try:
            client.create_folder(folder)
            created = True
        except imap_errors.IMAPClientError:
            if not client.folder_exists(folder):  # else: created by someone else meanwhile
                raise
    try:
        if created or not client.list_sub_folders("", folder):
            client.subscribe_folder(folder)
    except imap_errors.IMAPClientError as exc:  # not fatal: the folder exists
        logger.warning("could not subscribe to a folder", extra={"folder": folder, "error": str(exc)})
    return created


# -- intake --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Folder:
    """What the selected folder of one session offers."""

    uidvalidity: int
    keywords: bool  # PERMANENTFLAGS allows our keyword
    idle: bool
    move: bool
    uidplus: bool
    folders: set[str] = field(default_factory=set)  # targets known to exist


class ImapIntake(IntakeThread):
    """One mailbox watched by one thread: new messages go to ``accept``.

    ``start()``/``stop()``/``health()`` from :class:`IntakeThread` (``stop()`` breaks the
    connection under a blocked command); ``timeout`` bounds each command.
    """

    kind = "imap"

    def __init__(
        self,
        config: ImapConnectorConfig,
        accept: Accept,
        *,
        backoff_start: float = 1.0,
        timeout: float = 60.0,
    ) -> None:
        if config.processed == "move":
            for key in ("processed_folder", "refused_folder"):
                if _same_folder(getattr(config, key), config.folder):
                    raise ConfigError(
                        f"connector {config.label}: {key} must differ from folder {config.folder!r} "
                        "when processed = 'move'"
                    )
        super().__init__(
            config.label,
            f"{config.username}@{config.host}/{config.folder}",
            backoff_start=backoff_start,
            reconnect_max=config.reconnect_max,
        )
        self.config = config
        self._accept = accept
        self._timeout = timeout
        self._client: IMAPClient | None = None  # guarded by _lock
        self._in_accept = False
        self._retries = RetrySchedule()
        self._uidvalidity_now = 0

    def _retrying(self) -> int:
        return len(self._retries)

    def _uidvalidity(self) -> int | None:
        return self._uidvalidity_now

    def _describe(self, exc: BaseException) -> str:
        return describe_error(exc)

    def _expected(self, exc: BaseException) -> bool:
        return isinstance(exc, UmfaxError | OSError | imap_errors.IMAPClientError)

    def _unblock(self) -> None:
        if not self._in_accept:
            self._interrupt()  # blocked in a command: break the connection

    def check(self) -> None:
        """Connect, log in and select the folder once; raises :class:`ConnectorError`."""
        with self._session(track=False):
            pass

    # -- the thread -------------------------------------------------------------------------

    def _session_cycle(self) -> None:
        with self._session() as (client, folder):
            self._serve(client, folder)

    @contextmanager
    def _session(self, track: bool = True) -> Iterator[tuple[IMAPClient, _Folder]]:
        """A logged-in connection with the folder selected; ``track``: the thread's own
        (health and stop() see it), not a one-off :meth:`check`."""
        cfg = self.config
        client = connect(
            cfg.host,
            cfg.effective_port,
            cfg.tls,
            tls_verify=cfg.tls_verify,
            ca_file=cfg.ca_file,
            timeout=self._timeout,
        )
        if track:
            with self._lock:
                self._client = client
        try:
            try:
                self._login(client)
                info = client.select_folder(cfg.folder)
            except UmfaxError:
                raise
            except imap_errors.LoginError as exc:
                raise ConnectorError(
                    f"IMAP login as {cfg.username} at {cfg.host} refused: {_server_text(exc)}"
                ) from exc
            except imap_errors.IMAPClientError as exc:
                if isinstance(exc, imap_errors.IMAPClientAbortError):
                    raise
                raise ConnectorError(
                    f"cannot open folder {cfg.folder!r} of {cfg.username} at {cfg.host}: {_server_text(exc)}"
                ) from exc
            folder = self._folder(client, info, track)
            if not track:
                yield client, folder
                _logout(client)
                return
            with self._lock:
                self._connected = True
            logger.info(
                "imap intake connected",
                extra={
                    "connector": self.label,
                    "mailbox": self.mailbox,
                    "uidvalidity": folder.uidvalidity,
                    "idle": folder.idle and cfg.idle,
                    "keywords": folder.keywords,
                },
            )
            yield client, folder
            _logout(client)
        except BaseException:
            _abandon(client)
            raise
        finally:
            if track:
                with self._lock:
                    self._client = None
                    self._connected = False

    def _login(self, client: IMAPClient) -> None:
        cfg = self.config
        if cfg.password_env:
            password = secret(cfg.password_env, f"connectors[{self.label}].password_env")
            client.login(cfg.username, password)
        else:
            token = secret(cfg.oauth_token_env, f"connectors[{self.label}].oauth_token_env")
            try:
                client.sasl_login("XOAUTH2", _XOAuth2(cfg.username, token))
            except imap_errors.LoginError:
                raise
            except imap_errors.IMAPClientError as exc:
                if isinstance(exc, imap_errors.IMAPClientAbortError):
                    raise
                raise imap_errors.LoginError(str(exc)) from exc

    def _folder(self, client: IMAPClient, info: dict[bytes, Any], track: bool = True) -> _Folder:
        uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        permanent = {bytes(f).upper() for f in info.get(b"PERMANENTFLAGS", ())}
        keywords = b"\\*" in permanent or DONE_KEYWORD.upper().encode() in permanent
        if self.config.processed == "flag" and not keywords and track:
            logger.warning(
                "folder takes no keywords; marking handled mail \\Flagged and \\Seen",
                extra={"connector": self.label, "mailbox": self.mailbox},
            )
        if track and uidvalidity != self._uidvalidity_now:
            if self._uidvalidity_now:
                logger.warning(
                    "UIDVALIDITY changed; message positions start over",
                    extra={"connector": self.label, "old": self._uidvalidity_now, "uidvalidity": uidvalidity},
                )
            with self._lock:
                self._retries.clear()
                self._uidvalidity_now = uidvalidity
        return _Folder(
            uidvalidity=uidvalidity,
            keywords=keywords,
            idle=client.has_capability("IDLE"),
            move=client.has_capability("MOVE"),
            uidplus=client.has_capability("UIDPLUS"),
        )

    def _serve(self, client: IMAPClient, folder: _Folder) -> None:
        use_idle = self.config.idle and folder.idle
        with self._lock:
            self._mode = "idle" if use_idle else "poll"
        # A message that arrives between our last command and the start of IDLE is not
        # announced during that IDLE (Dovecot tells only after its own periodic check,
        # tens of seconds later).  So the first IDLE after a scan is short, and the
        # search after it catches such a message; only when that search finds nothing
        # do we settle into a long IDLE (the window left is one round trip).
        short = False
        quiet = False  # the last wait ended without news: a replaced folder would not have told
        while not self._stop.is_set():
            if quiet:
                self._check_uidvalidity(client, folder)
            due, touched = self._scan(client, folder)
            self._cycle_ok = True
            if self._stop.is_set():
                return
            if use_idle:
                short = touched or not short
                quiet = not self._idle(client, due, CATCH_UP if short else None) and not short
            else:
                self._poll_wait(due)
                quiet = True

    def _check_uidvalidity(self, client: IMAPClient, folder: _Folder) -> None:
        """Raise when the folder was replaced (deleted and created anew) under us.

        Dovecot keeps serving a deleted folder from the session's view without a word
        (STATUS too), so select it again: cheap, once per poll."""
        info = client.select_folder(self.config.folder)
        current = int(info.get(b"UIDVALIDITY", folder.uidvalidity))
        if current != folder.uidvalidity:
            raise ConnectorError(
                f"UIDVALIDITY of {self.config.folder!r} changed from {folder.uidvalidity} to {current}; "
                "reopening the folder"
            )

    # -- finding and handling messages --------------------------------------------------------

    def _criteria(self, folder: _Folder) -> list[str]:
        if self.config.processed == "move":
            return ["UNDELETED"]
        if folder.keywords:
            return ["UNDELETED", "UNKEYWORD", DONE_KEYWORD]
        return ["UNDELETED", "OR", "UNFLAGGED", "UNSEEN"]

    def _scan(self, client: IMAPClient, folder: _Folder) -> tuple[float | None, bool]:
        """Handle every message that is due: the monotonic time of the next retry (if
        any) and whether any message was handed to accept()."""
        criteria = self._criteria(folder)
        settled: set[int] = set()
        touched = False
        while not self._stop.is_set():
            _take_new_mail_notice(client)  # what SEARCH is about to see
            uids = sorted(int(u) for u in client.search(criteria))
            now = time.monotonic()
            with self._lock:
                self._last_poll = datetime.now(UTC)
                self._retries.keep_only(set(uids))
            repeated = settled.intersection(uids)
            if repeated:
                raise ConnectorError(
                    f"messages {sorted(repeated)} are still in {self.config.folder!r} after being "
                    f"{'moved' if self.config.processed == 'move' else 'flagged'}"
                )
            if self._retries.held(now):
                break
            ready = [u for u in uids if self._retries.due(u, now)]
            if not ready:
                break
            for uid in ready:
                if self._stop.is_set() or self._retries.held(time.monotonic()):
                    break
                touched = True
                if self._handle(client, folder, uid):
                    settled.add(uid)
        return self._retries.next_due(), touched

    def _handle(self, client: IMAPClient, folder: _Folder, uid: int) -> bool:
        """Fetch, accept, settle one message; True when it was moved or flagged."""
        fetched = client.fetch([uid], ["BODY.PEEK[]"])
        item = fetched.get(uid)
        if item is None:  # expunged meanwhile by someone else
            return False
        raw = item.get(b"BODY[]")
        if raw is None:
            raise ConnectorError(f"the server returned no content for message UID {uid}")
        ref = MailRef(connector=self.label, mailbox=self.mailbox, uidvalidity=folder.uidvalidity, uid=uid)
        self._in_accept = True
        try:
            result = self._accept(bytes(raw), ref)
        except Exception as exc:
            self._accept_failed(uid, folder, exc)
            return False
        finally:
            self._in_accept = False
        with self._lock:
            self._retries.forget(uid)
        target = self._settle(client, folder, uid, result)
        self._handed_over(result, target, uid=uid, uidvalidity=folder.uidvalidity)
        return True

    def _accept_failed(self, uid: int, folder: _Folder, exc: Exception) -> None:
        attempts, delay = self._schedule_retry(self._retries, uid, exc)
        error = describe_error(exc)
        self._note_error(f"message UID {uid}: {error}")
        logger.warning(
            "mail not accepted; left in the mailbox for another try",
            extra={
                "connector": self.label,
                "uid": uid,
                "uidvalidity": folder.uidvalidity,
                "attempt": attempts,
                "retry_in": round(delay, 2),
                "error": error,
            },
            exc_info=not isinstance(exc, UmfaxError),
        )

    def _settle(self, client: IMAPClient, folder: _Folder, uid: int, result: IntakeResult) -> str:
        """Move or flag a message ``accept`` has dealt with; where it went."""
        refused = result.refused
        cfg = self.config
        if cfg.processed == "move":
            target = cfg.refused_folder if refused else cfg.processed_folder
            if target not in folder.folders:
                if _folder_exists_or_create(client, target):
                    logger.info("created folder", extra={"connector": self.label, "folder": target})
                folder.folders.add(target)
            if folder.move:
                client.move([uid], target)
            else:
                client.copy([uid], target)
                client.add_flags([uid], ["\\Deleted"], silent=True)
                if folder.uidplus:
                    client.uid_expunge([uid])
                else:
                    client.expunge()
            return target
        if folder.keywords:
            flags = [DONE_KEYWORD, REFUSED_KEYWORD] if refused else [DONE_KEYWORD]
        else:
            flags = list(FALLBACK_FLAGS)
        client.add_flags([uid], flags, silent=True)
        return " ".join(flags)

    # -- waiting --------------------------------------------------------------------------------

    def _idle(self, client: IMAPClient, due: float | None, limit: float | None) -> bool:
        """IDLE until a new message, a retry is due, ``idle_timeout`` (or ``limit``) or stop().
        True when it ended because the server announced new mail."""
        news = False
        client.idle()
        started = time.monotonic()
        end = started + max(1.0, self.config.idle_timeout)
        if limit is not None:
            end = min(end, started + limit)
        if due is not None:
            end = min(end, due)
        if _take_new_mail_notice(client):  # announced after the last SEARCH or with IDLE's start
            end, news = started, True
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= end:
                break
            tick = min(WAIT_TICK, end - now)
            responses = client.idle_check(timeout=tick)
            if any(_is_bye(r) for r in responses):
                raise ConnectorError("the IMAP server closed the connection (BYE)")
            trouble = [r for r in responses if _is_error(r)]
            if trouble:
                # e.g. Dovecot once the watched folder was deleted (and perhaps created
                # anew, with a new UIDVALIDITY): start over with a fresh session
                raise ConnectorError(f"the IMAP server reported a problem: {_response_text(trouble[0])}")
            if any(_is_new_mail(r) for r in responses):
                news = True
                break
            if not responses and time.monotonic() - now < tick / 2:
                # woken with nothing to read: the connection may be gone; DONE will tell
                break
        client.idle_done()
        return news

    def _poll_wait(self, due: float | None) -> None:
        wait = max(0.1, self.config.poll_interval)
        if due is not None:
            wait = min(wait, max(0.0, due - time.monotonic()))
        self._stop.wait(wait)

    # -- helpers ----------------------------------------------------------------------------------

    def _interrupt(self) -> None:
        """Break the connection under a blocked command (from stop())."""
        with self._lock:
            client = self._client
        if client is None:
            return
        try:
            sock = client.socket()
            dup = socket.fromfd(sock.fileno(), sock.family, sock.type)
        except (OSError, AttributeError, ValueError):
            return
        with dup, suppress(OSError):
            dup.shutdown(socket.SHUT_RDWR)


def _same_folder(a: str, b: str) -> bool:
    if a.upper() == "INBOX" or b.upper() == "INBOX":
        return a.upper() == b.upper()
    return a == b


def _take_new_mail_notice(client: IMAPClient) -> bool:
    """Whether the server announced new messages (EXISTS) in answer to a command since
    the last call.  imapclient keeps such unsolicited responses in its imaplib object
    and tells no one; without this look, one arriving with our last SEARCH would wait
    for the next IDLE renewal."""
    imap = getattr(client, "_imap", None)
    pending = getattr(imap, "untagged_responses", None)
    if not isinstance(pending, dict):
        return False
    return pending.pop("EXISTS", None) is not None


def _is_bye(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 1 and response[0] == b"BYE"


def _is_error(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 1 and response[0] in (b"NO", b"BAD")


def _response_text(response: tuple[Any, ...]) -> str:
    return " ".join(
        part.decode(errors="replace") if isinstance(part, bytes) else str(part) for part in response
    )[:300]


def _is_new_mail(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")


# -- delivery --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppendUid:
    """Where an APPENDed message landed (RFC 4315 APPENDUID)."""

    uidvalidity: int
    uid: int


class ImapDelivery:
    """APPENDs messages into users' mailboxes with one administrative login.

    With ``act_as_user`` the login is SASL PLAIN with the user's email as authorization
    identity (a Dovecot master user, or an admin with proxy rights elsewhere); without
    it, LOGIN with the user's email and the configured password.  One short connection
    per delivery: thread-safe, nothing shared.
    """

    def __init__(self, config: ImapDeliveryConfig, *, timeout: float = 60.0) -> None:
        self.config = config
        self._timeout = timeout

    def deliver(
        self,
        email: str,
        message: bytes,
        *,
        folder: str = "INBOX",
        flags: Sequence[str] = (),
        when: datetime | None = None,
    ) -> AppendUid | None:
        """Put ``message`` into ``folder`` of ``email``'s mailbox (created when missing).

        Returns the new message's UIDVALIDITY/UID when the server says (UIDPLUS).
        Raises :class:`ConnectorError` (and ``ConfigError`` when the password is unset).
        """
        cfg = self.config
        where = f"{cfg.host}:{cfg.effective_port}"
        password = secret(cfg.password_env, "mail.imap.password_env")
        client = connect(
            cfg.host,
            cfg.effective_port,
            cfg.tls,
            tls_verify=cfg.tls_verify,
            ca_file=cfg.ca_file,
            timeout=self._timeout,
        )
        try:
            try:
                if cfg.act_as_user:
                    client.plain_login(cfg.username, password, authorization_identity=email)
                else:
                    client.login(email, password)
            except imap_errors.LoginError as exc:
                who = f"{cfg.username} acting as {email}" if cfg.act_as_user else email
                raise ConnectorError(
                    f"IMAP delivery to {email}: login as {who} at {where} refused "
                    f"({_server_text(exc)}); check the account and that the user exists"
                ) from exc
            created = _folder_exists_or_create(client, folder)
            response = client.append(folder, message, flags=tuple(flags), msg_time=when)
            _logout(client)
        except UmfaxError:
            _abandon(client)
            raise
        except Exception as exc:
            _abandon(client)
            raise ConnectorError(
                f"IMAP delivery to {email} folder {folder!r} at {where} failed: {describe_error(exc)}"
            ) from exc
        appended = _append_uid(response)
        logger.info(
            "mail delivered by IMAP",
            extra={
                "recipient": email,
                "folder": folder,
                "created_folder": created,
                "size": len(message),
                "uidvalidity": appended.uidvalidity if appended else None,
                "uid": appended.uid if appended else None,
            },
        )
        return appended


def _append_uid(response: Any) -> AppendUid | None:
    if isinstance(response, str):
        response = response.encode()
    if not isinstance(response, bytes):
        return None
    match = _APPENDUID.search(response)
    if match is None:
        return None
    return AppendUid(int(match.group(1)), int(match.group(2)))
