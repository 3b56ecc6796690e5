"""IMAP: faxes from a mailbox (:class:`ImapIntake`) and received faxes into users'
mailboxes (:class:`ImapDelivery`).

* :mod:`connectors.imap.connection`: connecting (TLS, STARTTLS), XOAUTH2, folders, plain
  error texts, the server's unsolicited responses;
* :mod:`connectors.imap.mailbox`: the intake's folder: which messages are still to do,
  moving or flagging them once handled;
* :mod:`connectors.imap.intake`: the intake thread (sessions, IDLE or polling, retries);
* :mod:`connectors.imap.delivery`: APPEND into users' mailboxes.
"""

from connectors.imap.connection import TlsMode, connect, describe_error, tls_context
from connectors.imap.delivery import AppendUid, ImapDelivery
from connectors.imap.intake import Accept, ImapIntake
from connectors.imap.mailbox import DONE_KEYWORD, FALLBACK_FLAGS, REFUSED_KEYWORD

__all__ = [
    "DONE_KEYWORD",
    "FALLBACK_FLAGS",
    "REFUSED_KEYWORD",
    "Accept",
    "AppendUid",
    "ImapDelivery",
    "ImapIntake",
    "TlsMode",
    "connect",
    "describe_error",
    "tls_context",
]
