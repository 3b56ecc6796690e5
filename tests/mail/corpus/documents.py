"""The corpus's building blocks: domains, real documents (PDF, PNG, TIFF), encoders, and the
records a sample is made of (:class:`Sample`, :class:`Expected`)."""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass

from PIL import Image

from umfax.conversion.pdf_out import serialize_pdf

FAX_DOMAINS = ("fax.example.com",)
ALLOWED_DOMAIN = "allowed.example"
AUTHSERV_ID = "mx.allowed.example"
HUGE_BYTES = 50 * 1024 * 1024


# -- documents ---------------------------------------------------------------------------------

def minimal_pdf(text: str = "umfax test document", pages: int = 1) -> bytes:
    """A small valid PDF (Helvetica text on Letter pages); different text, different bytes."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    objs: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
                         b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for n in range(pages):
        content = f"BT /F1 14 Tf 72 720 Td ({safe} - page {n + 1}) Tj ET".encode("latin-1", "replace")
        objs.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                    b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % len(objs))
        kids.append(len(objs))
    objs[1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
               + b"] /Count %d >>" % len(kids))
    return serialize_pdf(objs, root=1)


def png(color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (40, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def tiff() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (64, 32), 1).save(buf, "TIFF", compression="group4")
    return buf.getvalue()


def b64(data: bytes, width: int = 76) -> str:
    """Base64 in lines of ``width`` (0: one line, as some gateways write it)."""
    text = base64.b64encode(data).decode("ascii")
    if not width:
        return text
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


def qp(text: str, charset: str = "utf-8") -> str:
    return binascii.b2a_qp(text.encode(charset)).decode("ascii")


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


# -- samples -------------------------------------------------------------------------------------

Recipient = tuple[str, str]  # (number as written, name)
Doc = tuple[str, str, bytes]  # (filename, content type, bytes)


@dataclass(frozen=True)
class Expected:
    """What :func:`umfax.mail.message.parse_message` must find (``fax_domains=FAX_DOMAINS``)."""

    sender: str = ""
    subject: str = ""
    recipients: tuple[Recipient, ...] = ()  # read from the headers (as IMAP sees it)
    attachments: tuple[Doc, ...] = ()
    body: str = ""  # exact body_text
    notes: tuple[str, ...] = ()
    error: str | None = None  # a phrase of the MailError's message; None: no error
    automatic: bool = False
    other_recipients: tuple[str, ...] = ()
    rcpt_recipients: tuple[Recipient, ...] | None = None  # with envelope_recipients=rcpt, if different


@dataclass(frozen=True)
class Sample:
    name: str
    description: str
    raw: bytes
    rcpt: tuple[str, ...]  # SMTP RCPT TO (includes Bcc)
    mail_from: str  # SMTP MAIL FROM; "" for a bounce
    expected: Expected


_AUTH_PASS = (
    f"Authentication-Results: {AUTHSERV_ID};\n"
    f"\tspf=pass (sender IP is 203.0.113.25) smtp.mailfrom={ALLOWED_DOMAIN};\n"
    f"\tdkim=pass (signature was verified) header.d={ALLOWED_DOMAIN};\n"
    f"\tdmarc=pass action=none header.from={ALLOWED_DOMAIN};\n"
)


def _doc(name: str, text: str | None = None) -> Doc:
    return (name, "application/pdf", minimal_pdf(text or name))
