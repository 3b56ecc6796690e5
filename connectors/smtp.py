"""SMTP intake: a listener that Exchange (a send connector for ``FAX:*`` or the fax
domain, with umfax as its smart host), Postfix or any mail client can hand faxes to.

One :class:`SmtpIntake` serves one ``[[connectors]]`` table with ``type = "smtp"``.
It runs aiosmtpd in a thread of its own and talks to the core through two callables:

* ``check_recipient(address)`` at ``RCPT TO``: ``None`` for a fax address we would
  dial, else why not (``550 5.1.1 <why>``);
* ``accept(raw, ref)`` at the end of ``DATA``: commits the jobs, or says why not.  It
  blocks (parsing, the store), so it runs in a worker thread, never on the event loop.

The answer to ``DATA`` is given only once ``accept`` has returned: ``250`` with the job
ids when the jobs are committed; ``550``/``554`` with the reason when the message is
refused or has nothing to fax (the sending MTA then bounces it with our reason, which is
how the sender learns why); ``451`` when ``accept`` failed, so that the MTA keeps the
message and tries again (nothing is lost; a repeat is recognised as a duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import socket
import ssl
import textwrap
import threading
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from umfax.config import SmtpConnectorConfig, secret
from umfax.errors import ConfigError, ConnectorError, describe_error
from umfax.mail.ports import IntakeResult, MailRef, Outcome

logger = logging.getLogger(__name__)

CheckRecipient = Callable[[str], str | None]
Accept = Callable[[bytes, MailRef], IntakeResult]

#: RFC 5321 4.5.3.1.8: a server must take at least 100 recipients per message; more get
#: ``452`` and the client sends them in another transaction.
MAX_RECIPIENTS = 100
#: Idle timeout of a session (RFC 5321 4.5.3.2.7 asks for at least 5 minutes); reset by
#: every command and, unlike plain aiosmtpd, by every chunk of data received.
TIMEOUT = 300.0
#: Longest line accepted in a message (aiosmtpd's default is RFC 5321's 1000, but mail
#: clients and scripts do send long-line base64; MTAs accept them too).
LINE_LIMIT = 1024 * 1024
#: Failed AUTH attempts (all commands, really) allowed per connection before it is closed.
AUTH_ATTEMPTS = 5
#: How many messages are handed to ``accept`` at the same time.
WORKERS = 4

TEMPFAIL = "451 4.3.0 temporarily unable to queue the fax, try again later"
RCPT_TEMPFAIL = "451 4.3.0 temporarily unable to check the recipient, try again later"
ERROR_TEMPFAIL = "451 4.3.0 temporary server error, try again later"
REPLY_WIDTH = 400  # characters of reason per reply line (a reply line may be 512 octets)
REPLY_LINES = 8

_PUNCTUATION = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u2192": "->",
    }
)


def parse_listen(listen: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[v6]:port"`` (``":port"`` for every interface) → (host, port)."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"connectors.listen {listen!r} is not HOST:PORT (e.g. 127.0.0.1:2525)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ConfigError(f"connectors.listen {listen!r}: write an IPv6 address in brackets, [::1]:2525")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ascii(text: str) -> str:
    """``text`` as one line of printable ASCII (SMTP replies are ASCII)."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFKD", text.translate(_PUNCTUATION)):
        if " " <= ch <= "~":
            out.append(ch)
        elif ch in "\r\n\t\v\f":
            out.append(" ")
        elif not unicodedata.combining(ch):
            out.append("?")
    return " ".join("".join(out).split())


def smtp_reply(code: int, enhanced: str, text: str) -> str:
    """A (possibly multi-line) SMTP reply: ``550-5.7.1 first…\\r\\n550 5.7.1 last``."""
    lines = textwrap.wrap(_ascii(text), width=REPLY_WIDTH) or [""]
    if len(lines) > REPLY_LINES:
        lines = [*lines[: REPLY_LINES - 1], lines[REPLY_LINES - 1][: REPLY_WIDTH - 3] + "..."]
    last = len(lines) - 1
    return "\r\n".join(
        f"{code}{'-' if i < last else ' '}{enhanced} {line}".rstrip() for i, line in enumerate(lines)
    )


def reply_for(result: IntakeResult) -> str:
    """The answer to DATA for what ``accept`` returned."""
    if result.outcome in (Outcome.QUEUED, Outcome.DUPLICATE) and result.job_ids:
        return "250 2.0.0 queued as fax job(s) " + ", ".join(str(j) for j in result.job_ids)
    if result.outcome == Outcome.QUEUED:  # committed without jobs: should not happen, but it is ours now
        return "250 2.0.0 queued"
    if result.outcome == Outcome.REFUSED:
        return smtp_reply(550, "5.7.1", result.reason or "you may not send faxes through this server")
    if result.outcome == Outcome.INVALID:
        return smtp_reply(554, "5.6.0", result.reason or "there is nothing to fax in this message")
    # A duplicate of a message that was refused or invalid: give the same answer again.
    return smtp_reply(554, "5.6.0", result.reason or "this message was handled before and not faxed")


def _peer_ip(session: Session) -> str:
    peer: Any = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "")


def _reverse_path(mail_from: str | None) -> str:
    """MAIL FROM as given; ``""`` for the null reverse-path ``<>`` of bounces."""
    if mail_from is None or mail_from.strip() in ("", "<>"):
        return ""
    return mail_from


@dataclass(slots=True)
class SmtpHealth:
    listening: bool = False
    address: str = ""
    messages: int = 0  # DATA transactions answered
    queued: int = 0
    refused: int = 0  # refused, invalid, or a duplicate of one of those
    failed: int = 0  # accept raised: answered 451
    last_error: str = ""

    @property
    def ok(self) -> bool:
        return self.listening

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "listening": self.listening,
            "address": self.address,
            "messages": self.messages,
            "queued": self.queued,
            "refused": self.refused,
            "failed": self.failed,
            "last_error": self.last_error,
        }


class _Session(SMTP):
    """aiosmtpd's SMTP with a longer line limit and an idle (not per-command) timeout."""

    def __init__(self, handler: Any, *, line_limit: int, **kwargs: Any) -> None:
        self.line_length_limit = line_limit  # read by SMTP.__init__ for its stream reader
        super().__init__(handler, **kwargs)

    def data_received(self, data: bytes) -> None:
        # aiosmtpd restarts its timer per command only: a large message on a slow link
        # would be cut off in the middle of DATA.  Any bytes received mean the peer is alive.
        self._reset_timeout()
        super().data_received(data)


class _Controller(Controller):
    def __init__(self, handler: _Handler, host: str, port: int, session_kwargs: dict[str, Any]) -> None:
        super().__init__(handler, hostname=host, port=port, ready_timeout=10.0)
        self._session_kwargs = session_kwargs

    def factory(self) -> SMTP:
        return _Session(self.handler, loop=self.loop, **self._session_kwargs)

    def _run(self, ready_event: threading.Event) -> None:
        try:
            super()._run(ready_event)
        finally:
            ready_event.set()  # also when binding failed: start() need not wait its timeout

    def _trigger_server(self) -> None:
        if self._thread_exception is not None:  # binding failed: say why
            raise self._thread_exception
        # Port 0: learn the port the system chose before aiosmtpd connects to it.
        server = self.server
        if self.port == 0 and isinstance(server, asyncio.Server) and server.sockets:
            self.port = int(server.sockets[0].getsockname()[1])
        super()._trigger_server()  # type: ignore[no-untyped-call]

    @property
    def bound_port(self) -> int:
        return int(self.port)


class _Handler:
    """aiosmtpd's hooks, bound to one :class:`SmtpIntake`."""

    def __init__(self, intake: SmtpIntake) -> None:
        self.intake = intake

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # with this hook aiosmtpd leaves it to us
        if not self.intake.auth_enabled:
            responses = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if self.intake.config.require_auth and not session.authenticated:
            logger.info(
                "smtp: MAIL before AUTH refused",
                extra={"connector": self.intake.label, "peer": _peer_ip(session)},
            )
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        intake = self.intake
        if len(envelope.rcpt_tos) >= intake.max_recipients:
            return "452 4.5.3 Too many recipients"
        loop = asyncio.get_running_loop()
        try:
            # The loop's default executor: a quick check need not queue behind slow accepts.
            reason = await loop.run_in_executor(None, intake.check_recipient, address)
        except Exception:
            logger.exception(
                "smtp: recipient check failed",
                extra={"connector": intake.label, "peer": _peer_ip(session), "rcpt": address},
            )
            return RCPT_TEMPFAIL
        if reason is not None:
            logger.info(
                "smtp: recipient refused",
                extra={
                    "connector": intake.label,
                    "peer": _peer_ip(session),
                    "rcpt": address,
                    "reason": reason,
                },
            )
            return smtp_reply(550, "5.1.1", reason)
        if address.lower() not in (r.lower() for r in envelope.rcpt_tos):  # the same fax once
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        intake = self.intake
        raw = envelope.original_content or b""
        ref = MailRef(
            connector=intake.label,
            envelope_from=_reverse_path(envelope.mail_from),
            envelope_to=tuple(envelope.rcpt_tos),
            peer=_peer_ip(session),
        )
        loop = asyncio.get_running_loop()
        # The worker logs the outcome itself: if the client goes away meanwhile, this
        # coroutine is cancelled but ``accept`` runs to its end (and the MTA's retry is
        # then a duplicate of committed jobs).
        return await loop.run_in_executor(intake.executor, intake.deliver, raw, ref)

    async def handle_exception(self, error: Exception) -> str:
        # Never a 5xx for our own failure: the MTA would bounce a message we could take later.
        logger.error(
            "smtp: session error",
            exc_info=(type(error), error, error.__traceback__),
            extra={"connector": self.intake.label},
        )
        return ERROR_TEMPFAIL


class SmtpIntake:
    """The SMTP listener of one ``type = "smtp"`` connector.  ``start()``/``stop()``."""

    def __init__(
        self,
        config: SmtpConnectorConfig,
        check_recipient: CheckRecipient,
        accept: Accept,
        *,
        hostname: str = "",
        max_recipients: int = MAX_RECIPIENTS,
        timeout: float = TIMEOUT,
        workers: int = WORKERS,
    ) -> None:
        self.config = config
        self.check_recipient = check_recipient
        self.accept = accept
        self.label = config.label
        self.host, self._port = parse_listen(config.listen)
        self.hostname = config.hostname or hostname or socket.getfqdn()
        self.max_recipients = max_recipients
        self.timeout = timeout
        self.workers = workers
        self.tls_context = self._tls_context()
        self._username = config.auth_username.encode("utf-8")
        self._password = b""
        self.auth_enabled = bool(config.auth_username)
        # AUTH only under TLS, except on a loopback listener without TLS (a local relay).
        self.auth_over_plaintext = self.tls_context is None and is_loopback(self.host)
        if self.auth_enabled:
            self._password = secret(config.auth_password_env, "connectors.auth_password_env").encode("utf-8")
            if self.tls_context is None and not self.auth_over_plaintext:
                if config.require_auth:
                    raise ConfigError(
                        f"connector {self.label}: require_auth on a listener that is not loopback "
                        "needs tls_cert and tls_key (passwords are never taken in clear)"
                    )
                logger.warning(
                    "smtp: AUTH configured but never offered: no TLS on a non-loopback listener",
                    extra={"connector": self.label, "listen": config.listen},
                )
                self.auth_enabled = False
        self.executor: ThreadPoolExecutor | None = None
        self._controller: _Controller | None = None
        self._lock = threading.Lock()
        self._health = SmtpHealth()

    # -- life cycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port listened on (the one the system chose when ``listen`` ends in ``:0``)."""
        if self._controller is not None:
            return self._controller.bound_port
        return self._port

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is not None:
            return
        executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=f"smtp-{self.label}")
        session_kwargs: dict[str, Any] = {
            "line_limit": max(1001, min(LINE_LIMIT, self.config.max_message_size)),
            "hostname": self.hostname,
            "ident": "ESMTP umfax",
            "data_size_limit": self.config.max_message_size,
            "enable_SMTPUTF8": True,
            "decode_data": False,
            "tls_context": self.tls_context,
            "require_starttls": self.config.require_tls,
            "timeout": self.timeout,
            "auth_required": False,  # enforced in handle_MAIL, with an enhanced status code
            "auth_require_tls": not self.auth_over_plaintext,
            "auth_exclude_mechanism": [] if self.auth_enabled else ["LOGIN", "PLAIN"],
            "authenticator": self._authenticate,
            "command_call_limit": {"AUTH": AUTH_ATTEMPTS, "*": 1_000_000},
        }
        self.executor = executor
        controller = _Controller(_Handler(self), self.host, self._port, session_kwargs)
        try:
            controller.start()
        except Exception as exc:
            self.executor = None
            executor.shutdown(wait=False)
            self._close_failed(controller)
            with self._lock:
                self._health.last_error = describe_error(exc)
            raise ConnectorError(
                f"SMTP connector {self.label}: cannot listen on {self.config.listen}: {describe_error(exc)}"
            ) from exc
        self._controller = controller
        with self._lock:
            self._health.listening = True
            self._health.address = f"{self.host}:{self.port}"
        logger.info(
            "smtp: listening",
            extra={
                "connector": self.label,
                "listen": f"{self.host}:{self.port}",
                "hostname": self.hostname,
                "tls": self.tls_context is not None,
                "require_tls": self.config.require_tls,
                "auth": self.auth_enabled,
                "require_auth": self.config.require_auth,
                "max_message_size": self.config.max_message_size,
            },
        )

    def stop(self) -> None:
        """Stop listening; wait for messages being queued to be committed (or not)."""
        controller, self._controller = self._controller, None
        executor, self.executor = self.executor, None
        if controller is not None:
            controller.stop()
        if executor is not None:
            executor.shutdown(wait=True)
        with self._lock:
            self._health.listening = False
        if controller is not None:
            logger.info("smtp: stopped", extra={"connector": self.label})

    def __enter__(self) -> SmtpIntake:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def health(self) -> SmtpHealth:
        with self._lock:
            h = self._health
            return SmtpHealth(h.listening, h.address, h.messages, h.queued, h.refused, h.failed, h.last_error)

    @staticmethod
    def _close_failed(controller: _Controller) -> None:
        with contextlib.suppress(Exception):  # it never ran: nothing to stop
            controller.stop(no_assert=True)
        if not controller.loop.is_closed() and not controller.loop.is_running():
            controller.loop.close()

    # -- pieces --------------------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext | None:
        cert, key = self.config.tls_cert, self.config.tls_key
        if cert is None or key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(certfile=cert, keyfile=key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"connector {self.label}: cannot load tls_cert {str(cert)!r} / tls_key {str(key)!r}: "
                f"{describe_error(exc)}"
            ) from exc
        return context

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not self.auth_enabled or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = bytes(auth_data.login or b"")
        password = bytes(auth_data.password or b"")
        user_ok = hmac.compare_digest(login, self._username)
        password_ok = hmac.compare_digest(password, self._password)
        username = login.decode("utf-8", "replace")[:100]
        if user_ok and password_ok:
            logger.info(
                "smtp: authenticated",
                extra={"connector": self.label, "peer": _peer_ip(session), "username": username},
            )
            return AuthResult(success=True, auth_data=username)
        logger.warning(
            "smtp: authentication failed",
            extra={
                "connector": self.label,
                "peer": _peer_ip(session),
                "username": username,
                "mechanism": mechanism,
            },
        )
        return AuthResult(success=False, handled=False)

    def deliver(self, raw: bytes, ref: MailRef) -> str:
        """Hand one message to ``accept`` (in a worker thread) and say what to answer."""
        started = time.monotonic()
        facts: dict[str, Any] = {
            "connector": self.label,
            "peer": ref.peer,
            "mail_from": ref.envelope_from,
            "rcpt_count": len(ref.envelope_to),
            "bytes": len(raw),
        }
        try:
            result = self.accept(raw, ref)
        except Exception as exc:
            with self._lock:
                self._health.messages += 1
                self._health.failed += 1
                self._health.last_error = describe_error(exc)
            logger.error(
                "smtp: message not queued, the client will retry",
                exc_info=True,
                extra=facts | {"outcome": "tempfail", "elapsed_ms": _ms(started)},
            )
            return TEMPFAIL
        reply = reply_for(result)
        with self._lock:
            self._health.messages += 1
            if reply.startswith("250"):
                self._health.queued += 1
            else:
                self._health.refused += 1
        logger.info(
            "smtp: message",
            extra=facts
            | {
                "outcome": result.outcome.value,
                "jobs": list(result.job_ids),
                "reason": result.reason,
                "reply": reply[:3],
                "elapsed_ms": _ms(started),
            },
        )
        return reply


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
