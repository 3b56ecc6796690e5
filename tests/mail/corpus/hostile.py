"""Hostile and unusual messages: no attachment, archives, huge, malformed, forged, bounces,
auto-replies."""

from __future__ import annotations

import base64
import io
import zipfile
import zlib

from tests.mail.corpus.documents import (
    _AUTH_PASS,
    AUTHSERV_ID,
    HUGE_BYTES,
    Expected,
    Sample,
    _crlf,
    _doc,
    b64,
    minimal_pdf,
)


def _plain(subject: str, body: str, *, extra: str = "", sender: str = "Alice Sender <alice@allowed.example>",
           to: str = "12125550110@fax.example.com", auth: str = _AUTH_PASS) -> str:
    return f"""\
{auth}{extra}From: {sender}
To: {to}
Subject: {subject}
Date: Fri, 17 May 2024 17:00:00 +0000
Message-ID: <{zlib.crc32(subject.encode()):08x}.plain@allowed.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

{body}
"""


def _no_attachment() -> Sample:
    return Sample(
        "no_attachment", "Just text, nothing attached (not an error for the parser)",
        _crlf(_plain("Please fax this note", "Please fax this short note.\n\nAlice")),
        ("12125550110@fax.example.com",), "alice@allowed.example",
        Expected(sender="alice@allowed.example", subject="Please fax this note",
                 recipients=(("12125550110", ""),), body="Please fax this short note.\n\nAlice"),
    )


def _zip_of_pdfs() -> Sample:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("one.pdf", minimal_pdf("one"))
        archive.writestr("two.pdf", minimal_pdf("two"))
    raw = f"""\
{_AUTH_PASS}From: Alice Sender <alice@allowed.example>
To: 12125550110@fax.example.com
Subject: Documents
Date: Fri, 17 May 2024 17:10:00 +0000
Message-ID: <zip.1@allowed.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="bz"

--bz
Content-Type: text/plain; charset=utf-8

Both documents are in the zip.
--bz
Content-Type: application/x-zip-compressed; name="documents.zip"
Content-Disposition: attachment; filename="documents.zip"
Content-Transfer-Encoding: base64

{b64(buf.getvalue())}
--bz--
"""
    return Sample(
        "zip_of_pdfs", "Two PDFs in a zip archive: refused, attach the documents themselves",
        _crlf(raw), ("12125550110@fax.example.com",), "alice@allowed.example",
        Expected(sender="alice@allowed.example", subject="Documents", recipients=(("12125550110", ""),),
                 error="documents.zip is a zip archive, and zip archives are not faxed"),
    )


def _huge_attachment() -> Sample:
    data = minimal_pdf("huge") + b"\n%" + b"x" * HUGE_BYTES
    flat = base64.b64encode(data)
    encoded = b"\r\n".join(flat[i : i + 76] for i in range(0, len(flat), 76)) + b"\r\n"
    head = _crlf(f"""\
{_AUTH_PASS}From: Alice Sender <alice@allowed.example>
To: 12125550110@fax.example.com
Subject: Big scan
Date: Fri, 17 May 2024 17:20:00 +0000
Message-ID: <huge.1@allowed.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="bh"

--bh
Content-Type: application/pdf; name="big-scan.pdf"
Content-Disposition: attachment; filename="big-scan.pdf"
Content-Transfer-Encoding: base64

""")
    raw = head + encoded + b"--bh--\r\n"
    return Sample(
        "huge_attachment", "A 50 MB PDF: over the 25 MB attachment limit",
        raw, ("12125550110@fax.example.com",), "alice@allowed.example",
        Expected(sender="alice@allowed.example", subject="Big scan", recipients=(("12125550110", ""),),
                 error="big-scan.pdf is 50 MB, over the limit of 25 MB"),
    )


def _malformed_no_boundary() -> Sample:
    pdf = _doc("found.pdf")
    raw = f"""\
{_AUTH_PASS}From: Alice Sender <alice@allowed.example>
To: 12125550110@fax.example.com
Subject: No boundary
Date: Fri, 17 May 2024 17:30:00 +0000
Message-ID: <nob.1@allowed.example>
MIME-Version: 1.0
Content-Type: multipart/mixed

--lost
Content-Type: text/plain

The boundary parameter is missing.
--lost
Content-Type: application/pdf; name="found.pdf"
Content-Transfer-Encoding: base64

{b64(pdf[2])}
--lost--
"""
    return Sample(
        "malformed_no_boundary", "multipart/mixed without a boundary parameter: the boundary is found",
        _crlf(raw), ("12125550110@fax.example.com",), "alice@allowed.example",
        Expected(sender="alice@allowed.example", subject="No boundary", recipients=(("12125550110", ""),),
                 attachments=(pdf,), body="The boundary parameter is missing."),
    )


def _malformed_unterminated() -> Sample:
    whole = minimal_pdf("truncated", pages=4)
    encoded = b64(whole).split("\n")
    keep = len(encoded) // 2
    truncated = ("cut.pdf", "application/pdf", whole[: keep * 57])
    raw = f"""\
{_AUTH_PASS}From: Alice Sender <alice@allowed.example>
To: 12125550110@fax.example.com
Subject: Cut off
Date: Fri, 17 May 2024 17:40:00 +0000
Message-ID: <cut.1@allowed.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="bc"

--bc
Content-Type: multipart/alternative; boundary="never-closed"

--never-closed
Content-Type: text/plain

The connection dropped.
--bc
Content-Type: application/pdf; name="cut.pdf"
Content-Transfer-Encoding: base64

{chr(10).join(encoded[:keep])}
"""
    return Sample(
        "malformed_unterminated", "Parts never closed and a truncated base64 PDF: read as far as it goes",
        _crlf(raw), ("12125550110@fax.example.com",), "alice@allowed.example",
        Expected(sender="alice@allowed.example", subject="Cut off", recipients=(("12125550110", ""),),
                 attachments=(truncated,), body="The connection dropped."),
    )


def _malformed_encodings() -> Sample:
    pdf = _doc("noisy.pdf")
    lines = b64(pdf[2]).rstrip("=").split("\n")
    noisy = "\n".join(line[:30] + "!*~" + line[30:] + " \t" for line in lines)  # junk, no padding
    raw = f"""\
{_AUTH_PASS}From: Alice Sender <alice@allowed.example>
To: 12125550110@fax.example.com
Subject: Bad encodings
Date: not a date at all
Message-ID: <enc.1@allowed.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="be"

--be
Content-Type: text/plain; charset="x-no-such-charset"
Content-Transfer-Encoding: 8bit

Caf\u00e9 au lait, s'il vous pla\u00eet.
--be
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: x-gremlins

Second part with an unknown transfer encoding.
--be
Content-Type: application/pdf; name="noisy.pdf"
Content-Transfer-Encoding: BASE64

{noisy}
--be--
"""
    return Sample(
        "malformed_encodings",
        "An unknown charset, an unknown transfer encoding, base64 with junk and no padding",
        _crlf(raw), ("12125550110@fax.example.com",), "alice@allowed.example",
        Expected(sender="alice@allowed.example", subject="Bad encodings", recipients=(("12125550110", ""),),
                 attachments=(pdf,),
                 body="Café au lait, s'il vous plaît.\n\nSecond part with an unknown transfer encoding."),
    )


def _forged_sender() -> Sample:
    pdf = _doc("payment-order.pdf")
    auth = (f"Authentication-Results: {AUTHSERV_ID};\n"
            f"\tspf=fail (sender IP is 198.51.100.66) smtp.mailfrom=allowed.example;\n"
            f"\tdkim=none (message not signed) header.d=none;\n"
            f"\tdmarc=fail action=quarantine header.from=allowed.example;\n"
            "Authentication-Results: evil.example; dkim=pass header.d=allowed.example\n")
    raw = f"""\
{auth}Return-Path: <bounce@evil.example>
From: a@allowed.example
To: 12125550110@fax.example.com
Subject: Urgent payment order
Date: Fri, 17 May 2024 18:00:00 +0000
Message-ID: <forged.1@evil.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="bf"

--bf
Content-Type: application/pdf; name="payment-order.pdf"
Content-Transfer-Encoding: base64

{b64(pdf[2])}
--bf--
"""
    return Sample(
        "forged_sender", "From claims a@allowed.example; our server's Authentication-Results say dmarc=fail",
        _crlf(raw), ("12125550110@fax.example.com",), "bounce@evil.example",
        Expected(sender="a@allowed.example", subject="Urgent payment order",
                 recipients=(("12125550110", ""),), attachments=(pdf,)),
    )


def _bounce() -> Sample:
    raw = """\
Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.allowed.example>
To: alice@allowed.example
Subject: Undelivered Mail Returned to Sender
Date: Fri, 17 May 2024 18:10:00 +0000
Message-ID: <bounce.1@mx.allowed.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="br"

--br
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.allowed.example.
I'm sorry to have to inform you that your message could not be delivered.
--br
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.allowed.example
Final-Recipient: rfc822; 12125550110@fax.example.com
Action: failed
Status: 5.0.0
--br
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Alice Sender <alice@allowed.example>
To: 12125550110@fax.example.com
Subject: Something
--br--
"""
    return Sample(
        "bounce", "A delivery status notification from MAILER-DAEMON with a null Return-Path",
        _crlf(raw), ("fax@allowed.example",), "",
        Expected(sender="mailer-daemon@mx.allowed.example", subject="Undelivered Mail Returned to Sender",
                 automatic=True, other_recipients=("alice@allowed.example",),
                 body="This is the mail system at host mx.allowed.example.\n"
                      "I'm sorry to have to inform you that your message could not be delivered."),
    )


def _auto_reply() -> Sample:
    raw = _plain("Automatic reply: Signed contract", "I am out of the office until Monday.",
                 extra="Auto-Submitted: auto-replied\nX-Auto-Response-Suppress: All\n",
                 sender="John Smith <john@allowed.example>", to="alice@allowed.example")
    return Sample(
        "auto_reply", "An out-of-office reply (Auto-Submitted, X-Auto-Response-Suppress: All)",
        _crlf(raw), ("alice@allowed.example",), "john@allowed.example",
        Expected(sender="john@allowed.example", subject="Automatic reply: Signed contract", automatic=True,
                 body="I am out of the office until Monday.", other_recipients=("alice@allowed.example",)),
    )
