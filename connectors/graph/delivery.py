"""Received faxes and reports into users' Exchange Online mailboxes through Graph
(:class:`GraphDelivery`), built as Graph message resources (:func:`message_resource`)."""

from __future__ import annotations

import base64
import email
import email.policy
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from connectors.exchange import FAX_ITEM_CLASS, VOICE_ITEM_CLASS, item_class_for
from connectors.graph.session import INLINE_BUDGET, SIMPLE_ATTACHMENT, GraphError, GraphSession
from umfax.config import GraphDeliveryConfig
from umfax.errors import ConnectorError, describe_error

logger = logging.getLogger("connectors.graph")  # one logger name for the whole connector

@dataclass(frozen=True, slots=True)
class _Attachment:
    name: str
    content_type: str
    content: bytes
    content_id: str  # for an inline part (a preview shown in the body); "" otherwise

    def resource(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": self.name,
            "contentType": self.content_type,
            "contentBytes": base64.b64encode(self.content).decode("ascii"),
        }
        if self.content_id:
            item |= {"isInline": True, "contentId": self.content_id}
        return item


def _graph_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _addresses(message: EmailMessage, header: str) -> list[dict[str, Any]]:
    return [
        {"emailAddress": {"address": address, "name": name or address}}
        for name, address in getaddresses([str(v) for v in message.get_all(header, [])])
        if address
    ]


#: A voice message's Unified Messaging properties (MS-OXOUM 2.2.5) and the headers of
#: :mod:`umfax.notifications.voicemail` they come from, as Exchange's MIME conversion maps
#: them (MS-OXCMAIL 2.1.3.2.3); Graph takes no MIME, so they are set here.
VOICE_PROPERTIES = (
    ("Integer 0x6801", "X-VoiceMessageDuration"),  # PidTagVoiceMessageDuration
    ("String 0x6802", "X-CallingTelephoneNumber"),  # PidTagSenderTelephoneNumber
    ("String 0x6803", "X-VoiceMessageSenderName"),  # PidTagVoiceMessageSenderName
    ("String 0x6805", "X-AttachmentOrder"),  # PidTagVoiceMessageAttachmentOrder: what to play
)


def message_resource(
    raw: bytes, item_class: str = FAX_ITEM_CLASS
) -> tuple[dict[str, Any], list[_Attachment]]:
    """A Graph message resource for an RFC 5322 message (a report, a received fax), and its
    attachments apart.  Created with PidTagMessageFlags 0 (MS-OXCMSG: neither read nor
    unsent), it is a received, unread message, not a draft; PidTagMessageClass makes it a
    fax item in Outlook (a voicemail item with :data:`VOICE_ITEM_CLASS`, with its Unified
    Messaging properties, :data:`VOICE_PROPERTIES`); PidTagMessageDeliveryTime and
    PidTagClientSubmitTime carry the message's date."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("html", "plain"))
    content = body.get_content() if body is not None else ""
    try:
        date = parsedate_to_datetime(str(message["Date"])) if message["Date"] else datetime.now(UTC)
    except (TypeError, ValueError):
        date = datetime.now(UTC)
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    properties = [
        {"id": "Integer 0x0E07", "value": "0"},
        {"id": "String 0x001A", "value": item_class},
        {"id": "SystemTime 0x0E06", "value": _graph_time(date)},
        {"id": "SystemTime 0x0039", "value": _graph_time(date)},
    ]
    if item_class == VOICE_ITEM_CLASS:
        properties += [
            {"id": tag, "value": str(message[header]).strip()}
            for tag, header in VOICE_PROPERTIES
            if message[header]
        ]
    resource: dict[str, Any] = {
        "subject": str(message.get("Subject", "")),
        "body": {
            "contentType": "html" if body is not None and body.get_content_subtype() == "html" else "text",
            "content": content if isinstance(content, str) else "",
        },
        "isRead": False,
        "singleValueExtendedProperties": properties,
    }
    senders = _addresses(message, "From")
    if senders:
        resource["from"] = resource["sender"] = senders[0]
    for header, key in (("To", "toRecipients"), ("Cc", "ccRecipients")):
        if found := _addresses(message, header):
            resource[key] = found
    if message["Message-ID"]:
        resource["internetMessageId"] = str(message["Message-ID"]).strip()
    attachments: list[_Attachment] = []
    for number, part in enumerate(message.iter_attachments(), start=1):
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        content_id = str(part.get("Content-ID", "")).strip().strip("<>")
        inline = part.get_content_disposition() == "inline" and bool(content_id)
        name = part.get_filename() or f"attachment-{number}.{part.get_content_subtype()}"
        attachments.append(_Attachment(name, part.get_content_type(), data, content_id if inline else ""))
    return resource, attachments


class GraphDelivery:
    """Creates messages (received faxes, voice messages, reports) in users' mailboxes through
    Graph, as fax items (:data:`connectors.exchange.FAX_ITEM_CLASS`; voice messages as
    :data:`connectors.exchange.VOICE_ITEM_CLASS`), with the app of ``[mail.graph]``.

    Attachments up to :data:`INLINE_BUDGET` in all ride in the create request; others up to
    3 MB are added one POST each; larger ones (a long fine-resolution fax) go through an
    upload session.  One session, reused (msal keeps the token); calls are serialised."""

    def __init__(self, config: GraphDeliveryConfig, *, item_class: str = FAX_ITEM_CLASS) -> None:
        self.config = config
        self.item_class = item_class
        self._lock = threading.Lock()
        self._session = GraphSession(config, "mail.graph", threading.Event())
        self._folders: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        self._session.close()

    def deliver(self, email: str, message: bytes, *, folder: str = "inbox") -> str:
        """Create ``message`` (RFC 5322 bytes) in ``folder`` of ``email``'s mailbox (the folder
        is created when missing); the new message's id.  Raises :class:`ConnectorError`."""
        item_class = item_class_for(message, self.item_class)
        resource, attachments = message_resource(message, item_class)
        inline: list[_Attachment] = []
        budget = INLINE_BUDGET
        for attachment in attachments:
            if len(attachment.content) <= budget:
                inline.append(attachment)
                budget -= len(attachment.content)
        later = [a for a in attachments if a not in inline]
        resource["attachments"] = [a.resource() for a in inline]
        with self._lock:
            session = self._session
            try:
                key = (email.lower(), folder.lower())
                if key not in self._folders:
                    self._folders[key] = session.folder_id(email, folder, create=True)
                url = f"{session.user(email)}/mailFolders/{quote(self._folders[key])}/messages"
                created = session.call("POST", url, json=resource).json()
                message_id = str(created["id"])
                for attachment in later:
                    self._attach(session, email, message_id, attachment)
            except GraphError as exc:
                if exc.status == 404:
                    self._folders.pop((email.lower(), folder.lower()), None)
                error = describe_error(exc)
                raise ConnectorError(f"Graph delivery to {email} folder {folder!r}: {error}") from exc
        logger.info(
            "mail delivered by Graph",
            extra={
                "recipient": email,
                "folder": folder,
                "size": len(message),
                "attachments": len(attachments),
                "uploaded": len(later),
                "item_class": item_class,
            },
        )
        return message_id

    @staticmethod
    def _attach(session: GraphSession, email: str, message_id: str, attachment: _Attachment) -> None:
        url = f"{session.user(email)}/messages/{quote(message_id)}/attachments"
        if len(attachment.content) <= SIMPLE_ATTACHMENT:
            session.call("POST", url, json=attachment.resource())
            return
        item = {
            "AttachmentItem": {
                "attachmentType": "file",
                "name": attachment.name,
                "size": len(attachment.content),
                "contentType": attachment.content_type,
            }
        }
        upload = session.call("POST", f"{url}/createUploadSession", json=item).json()
        session.upload(str(upload["uploadUrl"]), attachment.content)
