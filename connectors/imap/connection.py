"""An IMAP connection as the connectors use it: TLS, login help, folders, plain error
texts, and the server's unsolicited responses that imapclient keeps to itself.

Shared by the intake (:mod:`connectors.imap.intake`) and delivery
(:mod:`connectors.imap.delivery`).  Everything here raises or describes errors in words
an administrator can act on, and never shows a secret.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Any, Literal

from imapclient import IMAPClient
from imapclient import exceptions as imap_errors
from imapclient.imapclient import SocketTimeout

from umfax.errors import ConnectorError, UmfaxError, shorten
from umfax.errors import describe_error as describe_any_error

logger = logging.getLogger(__name__)

TlsMode = Literal["implicit", "starttls", "none"]
CONNECT_TIMEOUT = 15.0


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
        return f"login refused: {server_text(exc)}"
    if isinstance(exc, imap_errors.IMAPClientAbortError):
        return f"connection lost: {server_text(exc)}"
    if isinstance(exc, TimeoutError):
        return "timed out waiting for the server"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError):
        return f"connection failed: {exc.strerror or exc.__class__.__name__}"
    if isinstance(exc, imap_errors.IMAPClientError):
        return f"server error: {server_text(exc)}"
    return describe_any_error(exc)


def server_text(exc: BaseException) -> str:
    """What the server said in an error (or the error's class name when it said nothing)."""
    text = shorten(str(exc))
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
        abandon(client)
        raise
    except Exception as exc:
        abandon(client)
        raise ConnectorError(f"IMAP server {where}: {describe_error(exc)}") from exc


def abandon(client: IMAPClient | None) -> None:
    """Close a connection without caring about its state."""
    if client is None:
        return
    try:
        client.shutdown()
    except Exception:  # already closed: nothing to do
        return


def logout(client: IMAPClient, timeout: float = 2.0) -> None:
    """LOGOUT politely, waiting at most ``timeout``; a dead connection is just dropped."""
    try:
        client.socket().settimeout(timeout)
        client.logout()
    except Exception:  # a dead connection: just drop it
        abandon(client)


class XOAuth2:
    """SASL XOAUTH2: the token once; an empty reply to the server's error challenge."""

    def __init__(self, user: str, token: str) -> None:
        self._first = f"user={user}\1auth=Bearer {token}\1\1"
        self._sent = False

    def __call__(self, challenge: bytes) -> str:
        if self._sent:
            return ""
        self._sent = True
        return self._first


def ensure_folder(client: IMAPClient, folder: str) -> bool:
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
        error = describe_any_error(exc)
        logger.warning("could not subscribe to a folder", extra={"folder": folder, "error": error})
    return created


# -- unsolicited responses ------------------------------------------------------------------


def take_new_mail_notice(client: IMAPClient) -> bool:
    """Whether the server announced new messages (EXISTS) in answer to a command since
    the last call.  imapclient keeps such unsolicited responses in its imaplib object
    and tells no one; without this look, one arriving with our last SEARCH would wait
    for the next IDLE renewal."""
    imap = getattr(client, "_imap", None)
    pending = getattr(imap, "untagged_responses", None)
    if not isinstance(pending, dict):
        return False
    return pending.pop("EXISTS", None) is not None


def is_bye(response: Any) -> bool:
    """An untagged BYE: the server is closing the connection."""
    return isinstance(response, tuple) and len(response) >= 1 and response[0] == b"BYE"


def is_error(response: Any) -> bool:
    """An untagged NO or BAD."""
    return isinstance(response, tuple) and len(response) >= 1 and response[0] in (b"NO", b"BAD")


def response_text(response: tuple[Any, ...]) -> str:
    """An untagged response as text for a message, at most 300 characters."""
    return " ".join(
        part.decode(errors="replace") if isinstance(part, bytes) else str(part) for part in response
    )[:300]


def is_new_mail(response: Any) -> bool:
    """An EXISTS or RECENT: messages arrived in the selected folder."""
    return isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")
