"""IMAP delivery: received faxes and reports APPENDed into users' mailboxes."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from imapclient import exceptions as imap_errors

from connectors.imap.connection import abandon, connect, describe_error, ensure_folder, logout, server_text
from umfax.config import ImapDeliveryConfig, secret
from umfax.errors import ConnectorError, UmfaxError

logger = logging.getLogger(__name__)

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.IGNORECASE)


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
                    f"({server_text(exc)}); check the account and that the user exists"
                ) from exc
            created = ensure_folder(client, folder)
            response = client.append(folder, message, flags=tuple(flags), msg_time=when)
            logout(client)
        except UmfaxError:
            abandon(client)
            raise
        except Exception as exc:
            abandon(client)
            raise ConnectorError(
                f"IMAP delivery to {email} folder {folder!r} at {where} failed: {describe_error(exc)}"
            ) from exc
        appended = append_uid(response)
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


def append_uid(response: Any) -> AppendUid | None:
    """The APPENDUID of an APPEND's answer, when the server gave one (UIDPLUS)."""
    if isinstance(response, str):
        response = response.encode()
    if not isinstance(response, bytes):
        return None
    match = _APPENDUID.search(response)
    if match is None:
        return None
    return AppendUid(int(match.group(1)), int(match.group(2)))
