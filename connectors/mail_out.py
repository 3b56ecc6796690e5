"""Sending mail out by SMTP: status reports, refusal replies, received faxes.

:class:`SmtpSender` sends through ``[mail]``'s ``smtp_*`` settings with a new connection
per message (thread-safe: nothing is shared between sends but the TLS context).  Errors
become :class:`SendError`, a :class:`~umfax.errors.ConnectorError` whose ``temporary``
says whether trying again later may help:

* temporary: a 4xx reply, the server unreachable, refusing or dropping the connection, a
  timeout, TLS failing (including an untrusted certificate), no STARTTLS offered, login
  refused.  The last three are configuration problems, but like Postfix we keep the mail
  and retry rather than lose it while somebody fixes the configuration;
* permanent: a 5xx reply to MAIL, RCPT or DATA (this message will never be taken), or a
  message we cannot send at all (no recipients, no server configured).
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import time
from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

from umfax.config import MailConfig, secret
from umfax.errors import ConfigError, ConnectorError, describe_error

logger = logging.getLogger(__name__)

TIMEOUT = 60.0
_EOL = re.compile(rb"\r\n|\r|\n")


class SendError(ConnectorError):
    """Sending failed.  ``temporary``: worth trying again later; ``code``: the server's
    reply code when there was one; ``refused``: recipients refused, with code and text."""

    def __init__(
        self,
        message: str,
        *,
        temporary: bool,
        code: int | None = None,
        refused: dict[str, tuple[int, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.code = code
        self.refused = dict(refused or {})


def _text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(reply.split())


def _temporary(code: int) -> bool:
    return 400 <= code < 500


def _loopback(host: str) -> bool:
    return host.lower() == "localhost" or host.startswith("127.") or host in ("::1", "[::1]")


def _crlf(data: bytes) -> bytes:
    return _EOL.sub(b"\r\n", data)


class SmtpSender:
    """Sends messages through the configured SMTP server.  Thread-safe."""

    def __init__(
        self,
        config: MailConfig,
        *,
        timeout: float = TIMEOUT,
        ca_file: Path | str | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self.config = config
        self.host = config.smtp_host
        self.port = config.smtp_port
        self.tls = config.smtp_tls
        self.timeout = timeout
        self.local_hostname = local_hostname
        self._password: str | None = None
        if config.smtp_username:
            if not config.smtp_password_env:
                raise ConfigError("mail.smtp_username needs mail.smtp_password_env")
            self._password = secret(config.smtp_password_env, "mail.smtp_password_env")
            if self.tls == "none" and not _loopback(self.host):
                logger.warning(
                    "mail out: the SMTP password goes to the server in clear (smtp_tls = none)",
                    extra={"smtp_host": self.host, "smtp_port": self.port},
                )
        self.context: ssl.SSLContext | None = None
        if self.tls != "none":
            self.context = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
            if not config.smtp_tls_verify:
                self.context.check_hostname = False
                self.context.verify_mode = ssl.CERT_NONE

    # -- sending -------------------------------------------------------------------------------

    def send(
        self,
        message: EmailMessage | bytes,
        *,
        envelope_from: str | None = None,
        recipients: Sequence[str] | None = None,
    ) -> tuple[str, ...]:
        """Send ``message``; return the recipients the server accepted.

        ``envelope_from``: MAIL FROM; ``None`` for ``[mail] from_address``; ``""`` for the
        null reverse-path (automatic replies and reports: RFC 3834, no bounce loops).
        ``recipients``: RCPT TO; by default To, Cc and Bcc of an :class:`EmailMessage`
        (required for bytes).  Bcc is never transmitted.
        """
        if not self.host:
            raise SendError("no outgoing mail server: set [mail] smtp_host", temporary=False)
        sender = self.config.from_address if envelope_from is None else envelope_from
        if isinstance(message, EmailMessage):
            rcpts = list(recipients) if recipients is not None else _header_recipients(message)
            data: EmailMessage | bytes = message
            message_id = str(message.get("Message-ID", ""))
        else:
            if recipients is None:
                raise ValueError("recipients are required to send raw bytes")
            rcpts = list(recipients)
            data = _crlf(message)
            message_id = ""
        rcpts = _unique(r.strip() for r in rcpts if r.strip())
        if not rcpts:
            raise SendError("the message has no recipients", temporary=False)
        facts = {
            "smtp_host": self.host,
            "smtp_port": self.port,
            "tls": self.tls,
            "mail_from": sender,
            "rcpt_count": len(rcpts),
            "message_id": message_id,
        }
        started = time.monotonic()
        try:
            refused = self._transmit(data, sender, rcpts)
        except SendError as exc:
            logger.warning(
                "mail out: not sent",
                extra=facts
                | {
                    "error": describe_error(exc),
                    "code": exc.code,
                    "temporary": exc.temporary,
                    "elapsed_ms": round((time.monotonic() - started) * 1000),
                },
            )
            raise
        accepted = tuple(r for r in rcpts if r not in refused)
        if refused:
            logger.warning(
                "mail out: some recipients refused",
                extra=facts | {"refused": {r: f"{c} {t}" for r, (c, t) in refused.items()}},
            )
        logger.info(
            "mail out: sent",
            extra=facts
            | {"accepted": list(accepted), "elapsed_ms": round((time.monotonic() - started) * 1000)},
        )
        return accepted

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "implicit":
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self.context,
            )
        return smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout)

    def _transmit(
        self, data: EmailMessage | bytes, sender: str, rcpts: list[str]
    ) -> dict[str, tuple[int, str]]:
        where = f"{self.host}:{self.port}"
        client: smtplib.SMTP | None = None
        try:
            client = self._connect()
            client.ehlo_or_helo_if_needed()
            if self.tls == "starttls":
                if not client.has_extn("starttls"):
                    raise SendError(
                        f"{where} does not offer STARTTLS (set [mail] smtp_tls to match the server)",
                        temporary=True,
                    )
                client.starttls(context=self.context)
                client.ehlo()
            if self._password is not None:
                client.login(self.config.smtp_username, self._password)
            if isinstance(data, EmailMessage):
                raw_refused = client.send_message(data, from_addr=sender, to_addrs=rcpts)
            else:
                raw_refused = client.sendmail(sender, rcpts, data)
            refused = {r: (int(code), _text(text)) for r, (code, text) in raw_refused.items()}
        except SendError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            refused = {r: (int(code), _text(text)) for r, (code, text) in exc.recipients.items()}
            temporary = any(_temporary(code) for code, _ in refused.values())
            detail = "; ".join(f"{r}: {c} {t}" for r, (c, t) in refused.items())
            raise SendError(
                f"{where} refused every recipient: {detail}",
                temporary=temporary,
                code=next(iter(refused.values()))[0] if refused else None,
                refused=refused,
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(
                f"{where} refused the login of {self.config.smtp_username!r}: "
                f"{exc.smtp_code} {_text(exc.smtp_error)} (check smtp_username and smtp_password_env)",
                temporary=True,
                code=exc.smtp_code,
            ) from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, HELO refused…
            raise SendError(
                f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}",
                temporary=_temporary(exc.smtp_code) or isinstance(exc, smtplib.SMTPHeloError),
                code=exc.smtp_code,
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:  # e.g. no AUTH offered
            raise SendError(f"{where}: {describe_error(exc)}", temporary=True) from exc
        except ssl.SSLCertVerificationError as exc:
            raise SendError(
                f"{where}: the server's certificate is not trusted ({exc.verify_message}); "
                "install its CA or set [mail] smtp_tls_verify = false",
                temporary=True,
            ) from exc
        except ssl.SSLError as exc:
            raise SendError(f"{where}: TLS failed: {describe_error(exc)}", temporary=True) from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise SendError(f"{where} closed the connection: {describe_error(exc)}", temporary=True) from exc
        except TimeoutError as exc:
            raise SendError(f"{where} did not answer within {self.timeout:g} s", temporary=True) from exc
        except OSError as exc:  # refused, unreachable, name not found…
            error = describe_error(exc)
            raise SendError(f"cannot reach the mail server {where}: {error}", temporary=True) from exc
        except smtplib.SMTPException as exc:
            raise SendError(f"{where}: {describe_error(exc)}", temporary=True) from exc
        finally:
            if client is not None:
                _quit(client)
        return refused


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _header_recipients(message: EmailMessage) -> list[str]:
    fields: list[str] = []
    for name in ("To", "Cc", "Bcc"):
        fields.extend(str(v) for v in message.get_all(name, []))
    return [address for _, address in getaddresses(fields) if address]


def _unique(addresses: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for address in addresses:
        if address.lower() not in seen:
            seen.add(address.lower())
            out.append(address)
    return out
