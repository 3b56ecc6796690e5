"""IMAP intake: faxes from a mailbox, one thread per watched folder.

Intake follows the contract of :mod:`umfax.mail.intake`: each message is fetched with
``BODY.PEEK[]`` (nothing is marked read), handed to ``accept``, and only once ``accept``
has returned is it moved (``processed = "move"``) or flagged (``processed = "flag"``),
see :mod:`connectors.imap.mailbox`.  If ``accept`` raises, nothing was committed; the
message stays untouched and is tried again after a backoff, while the other messages go
on.  A crash between commit and flag is harmless: the core answers ``DUPLICATE`` the next
time and the message is then moved or flagged.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from imapclient import IMAPClient
from imapclient import exceptions as imap_errors

from connectors.imap.connection import (
    XOAuth2,
    abandon,
    connect,
    describe_error,
    is_bye,
    is_error,
    is_new_mail,
    logout,
    response_text,
    server_text,
    take_new_mail_notice,
)
from connectors.imap.mailbox import DONE_KEYWORD, SelectedFolder, same_folder, search_criteria, settle
from connectors.intake_thread import IntakeThread, RetrySchedule
from umfax.config import ImapConnectorConfig, secret
from umfax.errors import ConfigError, ConnectorError, UmfaxError
from umfax.mail.ports import IntakeResult, MailRef

logger = logging.getLogger(__name__)

Accept = Callable[[bytes, MailRef], IntakeResult]

WAIT_TICK = 0.25  # how often a waiting intake thread looks whether stop() was called
CATCH_UP = 0.3  # the first IDLE after a scan lasts this long (see ImapIntake._serve)


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
                if same_folder(getattr(config, key), config.folder):
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
    def _session(self, track: bool = True) -> Iterator[tuple[IMAPClient, SelectedFolder]]:
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
                    f"IMAP login as {cfg.username} at {cfg.host} refused: {server_text(exc)}"
                ) from exc
            except imap_errors.IMAPClientError as exc:
                if isinstance(exc, imap_errors.IMAPClientAbortError):
                    raise
                raise ConnectorError(
                    f"cannot open folder {cfg.folder!r} of {cfg.username} at {cfg.host}: {server_text(exc)}"
                ) from exc
            folder = self._folder(client, info, track)
            if not track:
                yield client, folder
                logout(client)
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
            logout(client)
        except BaseException:
            abandon(client)
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
                client.sasl_login("XOAUTH2", XOAuth2(cfg.username, token))
            except imap_errors.LoginError:
                raise
            except imap_errors.IMAPClientError as exc:
                if isinstance(exc, imap_errors.IMAPClientAbortError):
                    raise
                raise imap_errors.LoginError(str(exc)) from exc

    def _folder(self, client: IMAPClient, info: dict[bytes, Any], track: bool = True) -> SelectedFolder:
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
        return SelectedFolder(
            uidvalidity=uidvalidity,
            keywords=keywords,
            idle=client.has_capability("IDLE"),
            move=client.has_capability("MOVE"),
            uidplus=client.has_capability("UIDPLUS"),
        )

    def _serve(self, client: IMAPClient, folder: SelectedFolder) -> None:
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

    def _check_uidvalidity(self, client: IMAPClient, folder: SelectedFolder) -> None:
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

    def _scan(self, client: IMAPClient, folder: SelectedFolder) -> tuple[float | None, bool]:
        """Handle every message that is due: the monotonic time of the next retry (if
        any) and whether any message was handed to accept()."""
        criteria = search_criteria(self.config, folder)
        settled: set[int] = set()
        touched = False
        while not self._stop.is_set():
            take_new_mail_notice(client)  # what SEARCH is about to see
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

    def _handle(self, client: IMAPClient, folder: SelectedFolder, uid: int) -> bool:
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
        target = settle(client, self.config, folder, uid, refused=result.refused, label=self.label)
        self._handed_over(result, target, uid=uid, uidvalidity=folder.uidvalidity)
        return True

    def _accept_failed(self, uid: int, folder: SelectedFolder, exc: Exception) -> None:
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
        if take_new_mail_notice(client):  # announced after the last SEARCH or with IDLE's start
            end, news = started, True
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= end:
                break
            tick = min(WAIT_TICK, end - now)
            responses = client.idle_check(timeout=tick)
            if any(is_bye(r) for r in responses):
                raise ConnectorError("the IMAP server closed the connection (BYE)")
            trouble = [r for r in responses if is_error(r)]
            if trouble:
                # e.g. Dovecot once the watched folder was deleted (and perhaps created
                # anew, with a new UIDVALIDITY): start over with a fresh session
                raise ConnectorError(f"the IMAP server reported a problem: {response_text(trouble[0])}")
            if any(is_new_mail(r) for r in responses):
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
