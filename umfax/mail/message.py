"""A mail message, as bytes, to what should be faxed: recipients, documents, body text.

Sans-IO: :func:`parse_message` is a pure function of the message's bytes, and
:class:`MailFax` what it found.  The work is shared out by what it is:

* :mod:`umfax.mail.mime`: reading MIME with the standard library (header text, RFC 2047
  and RFC 2231, part bodies, a multipart's lost boundary);
* :mod:`umfax.mail.parts`: which parts are the text and which the attachments, and what
  is refused (TNEF, archives, encrypted mail, sizes); :mod:`umfax.mail.html_text` and
  :mod:`umfax.mail.cms` for HTML bodies and S/MIME;
* :mod:`umfax.mail.addresses`: which recipients are fax numbers;
* :mod:`umfax.mail.auth_results`: the Authentication-Results headers;
* here: the message's own headers (sender, subject, date, whether it is automatic) and
  the :class:`MailFax` put together from all of them.

A malformed message is read as well as it can be, and what cannot be faxed raises
:class:`~umfax.errors.MailError` whose text is for the sender.  No other exception
escapes :func:`parse_message`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime

from umfax.errors import MailError
from umfax.mail.addresses import (
    FaxAddress,
    dedupe,
    fax_recipients,
    number_from_subject,
    parse_address_list,
    parse_fax_address,
)
from umfax.mail.auth_results import AuthResult, parse_authentication_results
from umfax.mail.mime import content_type, header_text, strip_id, unencoded
from umfax.mail.parts import Attachment, Collected, PartWalker

__all__ = ["Attachment", "AuthResult", "MailFax", "parse_message"]


@dataclass(frozen=True, slots=True)
class MailFax:
    """What a mail message asks to fax, and what is known of it."""

    message_id: str  # without <>; "" when absent
    sender: str  # From addr-spec, lowercased
    sender_name: str
    reply_to: str  # Reply-To addr-spec (lowercased) or ""
    return_path: str | None  # Return-Path addr-spec; "" for <> (a bounce); None when absent
    subject: str  # RFC 2047 decoded
    date: datetime | None
    recipients: list[FaxAddress]  # de-duplicated by number, order kept
    other_recipients: list[str]  # non-fax addresses (for information)
    body_text: str  # the message's own text
    attachments: list[Attachment]  # in the order the sender attached them
    authentication_results: list[AuthResult]
    automatic: bool  # auto-generated: never reply to it
    notes: list[str]  # things the sender should know


# -- the message's headers --------------------------------------------------------------------

def _first_address(value: str | None) -> tuple[str, str]:
    boxes = parse_address_list(unencoded(value))
    if not boxes:
        return "", ""
    return boxes[0].address.lower(), boxes[0].name


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        date = parsedate_to_datetime(value)
    except Exception:  # a date that is not one
        return None
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return date


def _automatic(top: Message, sender: str, return_path: str | None) -> bool:
    auto = top.get("auto-submitted", "").split(";", 1)[0].strip().lower()
    if auto and auto != "no":
        return True
    if top.get("precedence", "").lower() in ("bulk", "junk", "list"):
        return True
    if any(name in top for name in ("list-id", "x-autoreply", "x-autorespond")):
        return True
    if return_path == "":
        return True
    suppress = {t.strip().lower() for t in top.get("x-auto-response-suppress", "").split(",")}
    if "all" in suppress:
        return True
    local = sender.rpartition("@")[0] if "@" in sender else sender
    if local in ("mailer-daemon", "postmaster"):
        return True
    return content_type(top) == "multipart/report"


def parse_message(
    raw: bytes,
    *,
    fax_domains: Sequence[str] = (),
    envelope_recipients: Sequence[str] | None = None,
    max_attachment_bytes: int = 25 * 1024 * 1024,
    max_attachments: int = 50,
) -> MailFax:
    """What ``raw`` (an RFC 5322 message) asks to fax.

    Recipients come from ``envelope_recipients`` (SMTP RCPT TO, where Bcc is visible)
    when given and not empty, else from To/Cc/Bcc; display names from To/Cc lend the
    envelope's fax recipients their names.  When no address is a fax address, a number
    in the subject is the recipient.  No recipient and nothing to fax are not errors here.

    Raises :class:`MailError` (its text is for the sender) for what cannot be faxed;
    never anything else.
    """
    try:
        return _parse(raw, fax_domains, envelope_recipients, max_attachment_bytes, max_attachments)
    except MailError:
        raise
    except RecursionError as exc:
        raise MailError(
            "the message is nested too deeply to read; send the documents as plain attachments"
        ) from exc
    except Exception as exc:  # a bug, or input we failed to foresee: tell the sender plainly
        raise MailError(
            f"the message could not be read ({type(exc).__name__}); send it again as a plain message "
            "with the documents attached"
        ) from exc


def _parse(
    raw: bytes,
    fax_domains: Sequence[str],
    envelope_recipients: Sequence[str] | None,
    max_attachment_bytes: int,
    max_attachments: int,
) -> MailFax:
    walker = PartWalker(max_attachment_bytes)
    top = walker.read(raw, 0)

    sender, sender_name = _first_address(top.get("from"))
    reply_to = _first_address(top.get("reply-to"))[0]
    return_path: str | None = None
    if "return-path" in top:
        value = top.get("return-path", "")
        return_path = "" if value.replace(" ", "") in ("<>", "") else _first_address(value)[0]
    subject = " ".join(header_text(top.get("subject")).split())
    message_id = strip_id(header_text(top.get("message-id")))[:998]

    headers = [unencoded(v) for name in ("to", "cc", "bcc") for v in top.get_all(name, [])]
    if envelope_recipients:
        names: dict[str, str] = {}
        for value in headers:
            for box in parse_address_list(value):
                if box.name:
                    names.setdefault(box.address.lower(), box.name)
        faxes: list[FaxAddress] = []
        others: list[str] = []
        for address in envelope_recipients:
            bare = address.strip().strip("<>").strip()
            fax = parse_fax_address(bare, names.get(bare.lower(), ""), fax_domains=fax_domains)
            if fax is not None:
                faxes.append(fax)
            elif bare and bare.lower() not in others:
                others.append(bare.lower())
        recipients = dedupe(faxes)
    else:
        recipients, others = fax_recipients(headers, fax_domains=fax_domains)
    if not recipients:
        number = number_from_subject(subject)
        if number is not None:
            recipients = [FaxAddress(number, "", number, "subject")]

    results = [
        r for value in top.get_all("authentication-results", []) for r in parse_authentication_results(value)
    ]

    out = Collected()
    walker.walk(top, out, 0)
    if len(out.attachments) > max_attachments:
        raise MailError(
            f"the message has {len(out.attachments)} attachments, and at most {max_attachments} "
            "can be faxed from one message: send them in several messages"
        )
    body = "\n\n".join(t.strip("\n") for t in out.texts)
    body = "\n".join(line.rstrip() if line != "-- " else line for line in body.split("\n")).strip()

    return MailFax(
        message_id=message_id,
        sender=sender,
        sender_name=sender_name,
        reply_to=reply_to,
        return_path=return_path,
        subject=subject,
        date=_date(top.get("date", "")),
        recipients=recipients,
        other_recipients=others,
        body_text=body,
        attachments=out.attachments,
        authentication_results=results,
        automatic=_automatic(top, sender, return_path),
        notes=walker.notes,
    )
