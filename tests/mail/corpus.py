"""Mail messages shaped like those real clients send, and hostile ones, made on the spot.

Reusable by every mail test (parsing, IMAP and SMTP intake)::

    from tests.mail import corpus

    for name in corpus.NAMES:                 # every message (corpus.LIGHT: without the 50 MB one)
        raw = corpus.message(name)            # the message as bytes (CRLF line ends)
        s = corpus.sample(name)               # raw + SMTP envelope + what parsing must find
        s.rcpt, s.mail_from, s.expected.recipients, s.expected.attachments, s.expected.error

Conventions: the fax domain is ``fax.example.com`` (:data:`FAX_DOMAINS`); the company is
``allowed.example`` and its receiving server ``mx.allowed.example`` (:data:`AUTHSERV_ID`)
writes Authentication-Results that pass, except in ``forged_sender``.  Messages are built
lazily and cached; documents are real (PDFs via :func:`minimal_pdf`, PNG/TIFF via Pillow,
S/MIME signed and encrypted with the ``cryptography`` package and a throwaway certificate).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import io
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import NameOID
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


# Outlook ---------------------------------------------------------------------------------------

def _outlook_365() -> Sample:
    pdf = _doc("Contract 2024.pdf")
    logo = png((0, 90, 160))
    raw = f"""\
Received: from NAM11-DM6-obe.outbound.protection.outlook.com (203.0.113.25) by mx.allowed.example
 with ESMTPS id 4Vf3; Tue, 14 May 2024 09:12:35 +0000
{_AUTH_PASS}From: Alice Sender <alice@allowed.example>
To: "John Smith" <12125550110@fax.example.com>
CC: Bob Colleague <bob@allowed.example>
Subject: Signed contract
Thread-Topic: Signed contract
Thread-Index: AdqmB3kq0Vb1Xx2m0TqK2n4d8bG7sQ==
Date: Tue, 14 May 2024 09:12:33 +0000
Message-ID: <DM6PR11MB41237C1E1D2A4B8F9@DM6PR11MB4123.namprd11.prod.outlook.com>
Accept-Language: en-US
Content-Language: en-US
X-MS-Has-Attach: yes
X-MS-TNEF-Correlator:
x-ms-exchange-organization-authas: Internal
MIME-Version: 1.0
Content-Type: multipart/mixed;
\tboundary="_005_DM6PR11MB41237C1E1D2A4B8F9DM6PR11MB4123namp_"

--_005_DM6PR11MB41237C1E1D2A4B8F9DM6PR11MB4123namp_
Content-Type: multipart/related;
\tboundary="_004_DM6PR11MB41237C1E1D2A4B8F9DM6PR11MB4123namp_";
\ttype="multipart/alternative"

--_004_DM6PR11MB41237C1E1D2A4B8F9DM6PR11MB4123namp_
Content-Type: multipart/alternative;
\tboundary="_000_DM6PR11MB41237C1E1D2A4B8F9DM6PR11MB4123namp_"

--_000_DM6PR11MB41237C1E1D2A4B8F9DM6PR11MB4123namp_
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

Hello John,

Please find the signed contract attached.

Best regards,
Alice

[cid:image001.png@01DAA5B2.7C9E1A40]

--_000_DM6PR11MB41237C1E1D2A4B8F9DM6PR11MB4123namp_
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

<html xmlns:v=3D"urn:schemas-microsoft-com:vml" xmlns:o=3D"urn:schemas-micr=
osoft-com:office:office"><head><meta http-equiv=3D"Content-Type" content=3D=
"text/html; charset=3Dus-ascii"><style><!-- p.MsoNormal {{margin:0cm;}} -->=
</style></head><body lang=3D"EN-US"><div class=3D"WordSection1"><p class=3D=
"MsoNormal">Hello John,<o:p></o:p></p><p class=3D"MsoNormal">Please find th=
e signed contract attached.<o:p></o:p></p><p class=3D"MsoNormal"><img width=
=3D"40" height=3D"20" id=3D"Picture_x0020_1" src=3D"cid:image001.png@01DAA5=
B2.7C9E1A40"></p></div></body></html>

--_000_DM6PR11MB41237C1E1D2A4B8F9DM6PR11MB4123namp_--

--_004_DM6PR11MB41237C1E1D2A4B8F9DM6PR11MB4123namp_
Content-Type: image/png; name="image001.png"
Content-Description: image001.png
Content-Disposition: inline; filename="image001.png"; size={len(logo)};
\tcreation-date="Tue, 14 May 2024 09:12:33 GMT";
\tmodification-date="Tue, 14 May 2024 09:12:33 GMT"
Content-ID: <image001.png@01DAA5B2.7C9E1A40>
Content-Transfer-Encoding: base64

{b64(logo)}

--_004_DM6PR11MB41237C1E1D2A4B8F9DM6PR11MB4123namp_--

--_005_DM6PR11MB41237C1E1D2A4B8F9DM6PR11MB4123namp_
Content-Type: application/pdf; name="Contract 2024.pdf"
Content-Description: Contract 2024.pdf
Content-Disposition: attachment; filename="Contract 2024.pdf"; size={len(pdf[2])};
\tcreation-date="Tue, 14 May 2024 09:10:00 GMT";
\tmodification-date="Tue, 14 May 2024 09:10:00 GMT"
Content-Transfer-Encoding: base64

{b64(pdf[2])}

--_005_DM6PR11MB41237C1E1D2A4B8F9DM6PR11MB4123namp_--
"""
    return Sample(
        "outlook_365", "Outlook 365: mixed > related (alternative + inline logo) + attached PDF",
        _crlf(raw), ("12125550110@fax.example.com", "bob@allowed.example"), "alice@allowed.example",
        Expected(
            sender="alice@allowed.example", subject="Signed contract",
            recipients=(("12125550110", "John Smith"),), attachments=(pdf,),
            body="Hello John,\n\nPlease find the signed contract attached.\n\nBest regards,\nAlice\n\n"
                 "[cid:image001.png@01DAA5B2.7C9E1A40]",
            other_recipients=("bob@allowed.example",),
        ),
    )


_GERMAN = ("Sehr geehrte Frau Doe,\n\nanbei die Rechnung und ein Foto der Baustelle.\n\n"
           "Mit freundlichen Grüßen\nAlice")


def _outlook_2016_imceafax() -> Sample:
    pdf = _doc("Invoice 7781.pdf")
    photo = ("site-photo.png", "image/png", png((20, 160, 40), (30, 30)))
    raw = f"""\
{_AUTH_PASS}From: "Sender, Alice" <alice@allowed.example>
To: "Jane Doe" <IMCEAFAX-Jane+20Doe+40+2B1+20+28212+29+20555-0111@allowed.example>,
\t"Acme Billing" <IMCEAFAX-+2B1+20212+20555+200112@allowed.example>
Subject: Invoice 7781 and site photo
Thread-Topic: Invoice 7781 and site photo
Thread-Index: AQHaplcT2bq5s9nE0kGgq7bT1l2+0Q==
Date: Mon, 13 May 2024 16:40:05 +0200
Message-ID: <5F1C2D3E4B5A6978@EXCH01.allowed.example>
X-MS-Has-Attach: yes
X-MS-TNEF-Correlator:
X-Mailer: Microsoft Outlook 16.0
MIME-Version: 1.0
Content-Type: multipart/mixed;
\tboundary="----=_NextPart_000_0013_01DAA55E.3B0F1B10"
Content-Language: de

This is a multi-part message in MIME format.

------=_NextPart_000_0013_01DAA55E.3B0F1B10
Content-Type: multipart/alternative;
\tboundary="----=_NextPart_001_0014_01DAA55E.3B0F1B10"


------=_NextPart_001_0014_01DAA55E.3B0F1B10
Content-Type: text/plain;
\tcharset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

{qp(_GERMAN, "iso-8859-1")}

------=_NextPart_001_0014_01DAA55E.3B0F1B10
Content-Type: text/html;
\tcharset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

<html><body><p>Sehr geehrte Frau Doe,</p><p>anbei die Rechnung.</p></body></html>

------=_NextPart_001_0014_01DAA55E.3B0F1B10--

------=_NextPart_000_0013_01DAA55E.3B0F1B10
Content-Type: application/pdf;
\tname="Invoice 7781.pdf"
Content-Transfer-Encoding: base64
Content-Disposition: attachment;
\tfilename="Invoice 7781.pdf"

{b64(pdf[2])}

------=_NextPart_000_0013_01DAA55E.3B0F1B10
Content-Type: image/png;
\tname="site-photo.png"
Content-Transfer-Encoding: base64
Content-Disposition: attachment;
\tfilename="site-photo.png"

{b64(photo[2])}

------=_NextPart_000_0013_01DAA55E.3B0F1B10--
"""
    rcpt = ("IMCEAFAX-Jane+20Doe+40+2B1+20+28212+29+20555-0111@allowed.example",
            "IMCEAFAX-+2B1+20212+20555+200112@allowed.example")
    return Sample(
        "outlook_2016_imceafax", "Outlook 2016 via Exchange: fax contacts as IMCEAFAX, PDF + attached image",
        _crlf(raw), rcpt, "alice@allowed.example",
        Expected(
            sender="alice@allowed.example", subject="Invoice 7781 and site photo",
            recipients=(("+1 (212) 555-0111", "Jane Doe"), ("+1 212 555 0112", "Acme Billing")),
            attachments=(pdf, photo),
            body=_GERMAN,
        ),
    )


def _outlook_winmail() -> Sample:
    tnef = b"\x78\x9f\x3e\x22\x01\x00\x01\x06\x90\x08\x00\x04\x00\x00\x00\x00\x00\x01\x00\x01" * 20
    raw = f"""\
{_AUTH_PASS}From: Alice Sender <alice@allowed.example>
To: "[FAX:John Smith@+1 (212) 555-0110]" <[FAX:John Smith@+1 (212) 555-0110]>
Subject: Quote
Date: Mon, 13 May 2024 11:02:00 +0200
Message-ID: <000001daa4ff$1a2b3c40$4e5f6a70$@allowed.example>
MIME-Version: 1.0
X-Mailer: Microsoft Outlook 16.0
Thread-Index: AdqkXxyzAbCdEfGh
X-MS-TNEF-Correlator: 00000000A1B2C3D4E5F6
Content-Type: multipart/mixed;
\tboundary="----=_NextPart_000_0001_01DAA510.DDAF1C60"

This is a multipart message in MIME format.

------=_NextPart_000_0001_01DAA510.DDAF1C60
Content-Type: text/plain;
\tcharset="us-ascii"
Content-Transfer-Encoding: 7bit

Please fax the attached quote.

------=_NextPart_000_0001_01DAA510.DDAF1C60
Content-Type: application/ms-tnef;
\tname="winmail.dat"
Content-Transfer-Encoding: base64
Content-Disposition: attachment;
\tfilename="winmail.dat"

{b64(tnef)}

------=_NextPart_000_0001_01DAA510.DDAF1C60--
"""
    return Sample(
        "outlook_winmail", "Outlook in Rich Text: the attachments are inside winmail.dat (TNEF)",
        _crlf(raw), ("[FAX:John Smith@+1 (212) 555-0110]",), "alice@allowed.example",
        Expected(sender="alice@allowed.example", subject="Quote",
                 recipients=(("+1 (212) 555-0110", "John Smith"),), error="Rich Text format (TNEF"),
    )


# Gmail -------------------------------------------------------------------------------------------

def _gmail() -> Sample:
    po = _doc("PO-4471.pdf")
    terms = _doc("terms.pdf", "Terms and conditions")
    text = "Hi,\n\nplease fax the purchase order and our terms.\n\nGrüße,\nCarol\n"
    html = ('<div dir="ltr">Hi,<div><br></div><div>please fax the purchase order and our terms.</div>'
            "<div><br></div><div>Grüße,</div><div>Carol</div></div>")
    raw = f"""\
Return-Path: <carol.sender@gmail.com>
Authentication-Results: {AUTHSERV_ID};
       dkim=pass header.i=@gmail.com header.s=20230601 header.b=Xy12Ab34;
       spf=pass (mx.allowed.example: domain of carol.sender@gmail.com designates
       209.85.220.41 as permitted sender) smtp.mailfrom=carol.sender@gmail.com;
       dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=gmail.com
MIME-Version: 1.0
Date: Wed, 15 May 2024 10:01:02 -0700
Message-ID: <CAH+w=7YqfM1kR9E2b5sZ0pLxN3=g@mail.gmail.com>
Subject: Fax: purchase order
From: Carol Gmail <Carol.Sender@gmail.com>
To: Purchasing Dept <12125550110@fax.example.com>, 1-212-555-0110@fax.example.com,
 "Terms Desk" <+1-212-555-0113@FAX.EXAMPLE.COM>
Content-Type: multipart/mixed; boundary="000000000000a1b2c3d4e5f60718"

--000000000000a1b2c3d4e5f60718
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f60716"

--000000000000a1b2c3d4e5f60716
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

{qp(text)}
--000000000000a1b2c3d4e5f60716
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

{qp(html)}

--000000000000a1b2c3d4e5f60716--
--000000000000a1b2c3d4e5f60718
Content-Type: application/pdf; name="PO-4471.pdf"
Content-Disposition: attachment; filename="PO-4471.pdf"
Content-Transfer-Encoding: base64
Content-ID: <f_lw7x1abc0>
X-Attachment-Id: f_lw7x1abc0

{b64(po[2])}
--000000000000a1b2c3d4e5f60718
Content-Type: application/pdf; name="terms.pdf"
Content-Disposition: attachment; filename="terms.pdf"
Content-Transfer-Encoding: base64
Content-ID: <f_lw7x1abc1>
X-Attachment-Id: f_lw7x1abc1

{b64(terms[2])}
--000000000000a1b2c3d4e5f60718--
"""
    return Sample(
        "gmail", "Gmail: mixed > alternative (QP UTF-8) + two PDFs, 76-column base64, one number twice",
        _crlf(raw), ("12125550110@fax.example.com", "1-212-555-0110@fax.example.com",
                     "+1-212-555-0113@FAX.EXAMPLE.COM"), "carol.sender@gmail.com",
        Expected(
            sender="carol.sender@gmail.com", subject="Fax: purchase order",
            recipients=(("12125550110", "Purchasing Dept"), ("+1-212-555-0113", "Terms Desk")),
            attachments=(po, terms), body=text.strip(),
            rcpt_recipients=(("12125550110", "Purchasing Dept"), ("+1-212-555-0113", "Terms Desk")),
        ),
    )


# Apple Mail --------------------------------------------------------------------------------------

_APPLE = "Apple-Mail=_3F2A1B4C-5D6E-4F70-8192-A3B4C5D6E7F8"


def _apple_part(name: str, data: bytes) -> str:
    return f"""\
--{_APPLE}
Content-Disposition: inline;
\tfilename={name}
Content-Type: application/pdf;
\tx-unix-mode=0644;
\tname="{name}"
Content-Transfer-Encoding: base64

{b64(data)}
"""


def _apple_text(text: str) -> str:
    return f"""\
--{_APPLE}
Content-Transfer-Encoding: quoted-printable
Content-Type: text/plain;
\tcharset=utf-8

{qp(text)}
"""


def _apple_mail() -> Sample:
    a, b = _doc("form-a.pdf"), _doc("form-b.pdf")
    texts = ["Here is the first form:", "and the second one:",
             "Thanks, Renée — this is a long line that quoted-printable will have to break with soft "
             "line breaks because it is longer than seventy-six characters."]
    raw = f"""\
{_AUTH_PASS}From: Dave Apple <dave@allowed.example>
Content-Type: multipart/mixed;
\tboundary="{_APPLE}"
Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3774.500.171.1.1\\))
Subject: Two forms
Date: Thu, 16 May 2024 08:30:00 +0100
To: 12125550110@fax.example.com
X-Mailer: Apple Mail (2.3774.500.171.1.1)
Message-Id: <8A1F2B3C-4D5E-6F70-8192-A3B4C5D6E7F8@allowed.example>

{_apple_text(texts[0])}{_apple_part("form-a.pdf", a[2])}{_apple_text(texts[1])}\
{_apple_part("form-b.pdf", b[2])}{_apple_text(texts[2])}--{_APPLE}--
"""
    return Sample(
        "apple_mail", "Apple Mail: text, inline PDF, text, inline PDF, text (quoted-printable)",
        _crlf(raw), ("12125550110@fax.example.com",), "dave@allowed.example",
        Expected(sender="dave@allowed.example", subject="Two forms", recipients=(("12125550110", ""),),
                 attachments=(a, b), body="\n\n".join(texts)),
    )


def _apple_mail_html() -> Sample:
    a = _doc("scan.pdf")
    inner = "Apple-Mail=_INNER-77E1"
    raw = f"""\
{_AUTH_PASS}From: Dave Apple <dave@allowed.example>
Content-Type: multipart/alternative;
\tboundary="{_APPLE}"
Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3774.500.171.1.1\\))
Subject: Scan
Date: Thu, 16 May 2024 08:35:00 +0100
To: "Front Desk" <+12125550110@fax.example.com>
Message-Id: <9B2F2B3C-4D5E-6F70-8192-A3B4C5D6E7F8@allowed.example>

--{_APPLE}
Content-Transfer-Encoding: 7bit
Content-Type: text/plain;
\tcharset=us-ascii

The scan:

<scan.pdf>

Dave
--{_APPLE}
Content-Type: multipart/mixed;
\tboundary="{inner}"

--{inner}
Content-Transfer-Encoding: 7bit
Content-Type: text/html;
\tcharset=us-ascii

<html><body><div>The scan:</div><div><br></div></body></html>
--{inner}
Content-Disposition: inline;
\tfilename=scan.pdf
Content-Type: application/pdf;
\tx-unix-mode=0644;
\tname="scan.pdf"
Content-Transfer-Encoding: base64

{b64(a[2])}
--{inner}
Content-Transfer-Encoding: 7bit
Content-Type: text/html;
\tcharset=us-ascii

<html><body><div><br></div><div>Dave</div></body></html>
--{inner}--

--{_APPLE}--
"""
    return Sample(
        "apple_mail_html", "Apple Mail rich text: alternative of plain and mixed(html, PDF, html)",
        _crlf(raw), ("+12125550110@fax.example.com",), "dave@allowed.example",
        Expected(sender="dave@allowed.example", subject="Scan", recipients=(("+12125550110", "Front Desk"),),
                 attachments=(a,), body="The scan:\n\n<scan.pdf>\n\nDave"),
    )


# Other clients and encodings ------------------------------------------------------------------

def _long_lines() -> Sample:
    scan = ("scan0001.pdf", "application/pdf", minimal_pdf("Scanned page", pages=3))
    long_text = "This line is much longer than any line should be " * 40
    raw = f"""\
{_AUTH_PASS}From: scanner@allowed.example
To: 12125550110@fax.example.com
Subject: Scan from MFP-3F
Date: Fri, 17 May 2024 07:00:00 +0000
Message-ID: <scan.20240517070000@mfp-3f.allowed.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=-=-=MFP=-=-="

--=-=-=MFP=-=-=
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: quoted-printable

{long_text.strip()}
--=-=-=MFP=-=-=
Content-Type: application/octet-stream; name="scan0001.pdf"
Content-Transfer-Encoding: base64

{b64(scan[2], width=0)}
--=-=-=MFP=-=-=--
"""
    return Sample(
        "long_lines", "A scanner: base64 PDF on one line as application/octet-stream, QP text without breaks",
        _crlf(raw), ("12125550110@fax.example.com",), "scanner@allowed.example",
        Expected(sender="scanner@allowed.example", subject="Scan from MFP-3F",
                 recipients=(("12125550110", ""),), attachments=(scan,), body=long_text.strip()),
    )


def _rfc2231() -> Sample:
    first = ("Vertrag Müller.pdf", "application/pdf", minimal_pdf("Vertrag"))
    second = ("Angebot für die Stadt Köln.pdf", "application/pdf", minimal_pdf("Angebot"))
    third = ("Résumé.pdf", "application/pdf", minimal_pdf("Resume"))
    fourth = ("attachment-4.tif", "image/tiff", tiff())
    raw = f"""\
{_AUTH_PASS}From: =?utf-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@allowed.example>
To: =?utf-8?B?QmVow7ZyZGUgS8O2bG4=?= <+49 221 1234567@fax.example.com>
Subject: =?utf-8?Q?Unterlagen_f=C3=BCr_K=C3=B6ln?=
Date: Fri, 17 May 2024 09:00:00 +0200
Message-ID: <rfc2231.1@allowed.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=simple

--simple
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Anbei die Unterlagen.
--simple
Content-Type: application/pdf
Content-Disposition: attachment; filename*=utf-8''Vertrag%20M%C3%BCller.pdf
Content-Transfer-Encoding: base64

{b64(first[2])}
--simple
Content-Type: application/pdf; name*=utf-8''ignored.pdf
Content-Disposition: attachment;
 filename*0*=utf-8''Angebot%20f%C3%BCr%20;
 filename*1*=die%20Stadt%20;
 filename*2="K\u00f6ln.pdf"
Content-Transfer-Encoding: base64

{b64(second[2])}
--simple
Content-Type: application/pdf; name="=?iso-8859-1?Q?R=E9sum=E9.pdf?="
Content-Transfer-Encoding: base64

{b64(third[2])}
--simple
Content-Type: image/tiff
Content-Transfer-Encoding: base64

{b64(fourth[2])}
--simple--
"""
    return Sample(
        "rfc2231_filename", "RFC 2231 filenames (charset, continuations), an RFC 2047 name, a nameless TIFF",
        _crlf(raw), ("+49 221 1234567@fax.example.com",), "joerg@allowed.example",
        Expected(sender="joerg@allowed.example", subject="Unterlagen für Köln",
                 recipients=(("+49 221 1234567", "Behörde Köln"),),
                 attachments=(first, second, third, fourth), body="Anbei die Unterlagen."),
    )


def _forwarded() -> Sample:
    outer1, inner, outer2 = _doc("cover-letter.pdf"), _doc("quote-200.pdf"), _doc("appendix.pdf")
    raw = f"""\
{_AUTH_PASS}From: Alice Sender <alice@allowed.example>
To: 12125550110@fax.example.com
Subject: Fw: Quote for 200 units
Date: Fri, 17 May 2024 10:00:00 +0000
Message-ID: <fwd.1@allowed.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer-b"

--outer-b
Content-Type: text/plain; charset=utf-8

FYI, see the forwarded quote.
--outer-b
Content-Type: application/pdf; name="cover-letter.pdf"
Content-Disposition: attachment; filename="cover-letter.pdf"
Content-Transfer-Encoding: base64

{b64(outer1[2])}
--outer-b
Content-Type: message/rfc822; name="Quote for 200 units.eml"
Content-Disposition: attachment; filename="Quote for 200 units.eml"

From: Supplier <sales@supplier.example>
To: Alice Sender <alice@allowed.example>
Subject: Quote for 200 units
Date: Thu, 16 May 2024 15:00:00 +0000
Message-ID: <quote.200@supplier.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="inner-b"

--inner-b
Content-Type: text/plain; charset=utf-8

Dear Alice, our quote is attached.
--inner-b
Content-Type: application/pdf; name="quote-200.pdf"
Content-Disposition: attachment; filename="quote-200.pdf"
Content-Transfer-Encoding: base64

{b64(inner[2])}
--inner-b--

--outer-b
Content-Type: application/pdf; name="appendix.pdf"
Content-Disposition: attachment; filename="appendix.pdf"
Content-Transfer-Encoding: base64

{b64(outer2[2])}
--outer-b--
"""
    return Sample(
        "forwarded_eml", "A forwarded .eml between two PDFs: its PDF is faxed in place, its text is not",
        _crlf(raw), ("12125550110@fax.example.com",), "alice@allowed.example",
        Expected(sender="alice@allowed.example", subject="Fw: Quote for 200 units",
                 recipients=(("12125550110", ""),), attachments=(outer1, inner, outer2),
                 body="FYI, see the forwarded quote.",
                 notes=('the forwarded message "Quote for 200 units": its attachments are faxed, '
                        "its text is not",)),
    )


def _thunderbird_flowed() -> Sample:
    text = ("This paragraph was written as one long line and Thunderbird wrapped it \n"
            "with format=flowed, so the soft breaks must be joined again.\n"
            "\n"
            "> a quoted line that was \n"
            "> wrapped too\n"
            "\n"
            "-- \n"
            "Erin, Accounts\n")
    body = ("This paragraph was written as one long line and Thunderbird wrapped it with format=flowed, "
            "so the soft breaks must be joined again.\n\n> a quoted line that was wrapped too\n\n-- \n"
            "Erin, Accounts")
    raw = f"""\
{_AUTH_PASS}From: Erin <erin@allowed.example>
To: "Fax: Supplier" <12125550110@fax.example.com>, erin@allowed.example
Subject: Note for the supplier
Date: Fri, 17 May 2024 11:00:00 +0200
Message-ID: <tb.1@allowed.example>
User-Agent: Mozilla Thunderbird
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 7bit

{text}"""
    return Sample(
        "thunderbird_flowed", "Thunderbird: format=flowed text/plain with a signature, no attachment",
        _crlf(raw), ("12125550110@fax.example.com", "erin@allowed.example"), "erin@allowed.example",
        Expected(sender="erin@allowed.example", subject="Note for the supplier",
                 recipients=(("12125550110", "Fax: Supplier"),), body=body,
                 other_recipients=("erin@allowed.example",)),
    )


def _html_only() -> Sample:
    html = ("<html><head><style>td {color: red}</style><script>alert(1)</script></head><body>"
            "<h1>Order</h1><p>Please deliver:</p><ul><li>2 pallets</li><li>1 crate</li></ul>"
            "<table><tr><td>Total</td><td>&euro;&nbsp;120</td></tr></table>"
            "<p>Thanks<br>Frank</p></body></html>")
    raw = f"""\
{_AUTH_PASS}From: Frank <frank@allowed.example>
To: 12125550110@fax.example.com
Subject: Order
Date: Fri, 17 May 2024 12:00:00 +0000
Message-ID: <html.1@allowed.example>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

{b64(html.encode())}
"""
    return Sample(
        "html_only", "A web mailer's HTML-only message: the text is made readable",
        _crlf(raw), ("12125550110@fax.example.com",), "frank@allowed.example",
        Expected(sender="frank@allowed.example", subject="Order", recipients=(("12125550110", ""),),
                 body="Order\n\nPlease deliver:\n\n- 2 pallets\n- 1 crate\n\nTotal € 120\n\nThanks\nFrank"),
    )


def _fax_forms() -> Sample:
    pdf = _doc("letter.pdf")
    raw = f"""\
{_AUTH_PASS}From: Alice Sender <alice@allowed.example>
To: [FAX:Jane Doe@+1 (212) 555-0111], FAX:Bob Roe@+1 (212) 555-0112,
 "Acme" <FAX=+12125550113@gateway.example>, "Old Gateway" <fax=Carl Poe@+1 212 555 0114@gateway.example>,
 Outlook Contact <[FAX:+1 (212) 555-0115]>
Cc: Recipients: "Dana" <12125550116@fax.example.com>, bob@allowed.example;,
 12125550116@fax.example.com (Dana again)
Subject: One letter, six fax numbers
Date: Fri, 17 May 2024 13:00:00 +0000
Message-ID: <forms.1@allowed.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: application/pdf; name="letter.pdf"
Content-Transfer-Encoding: base64

{b64(pdf[2])}
--b1--
"""
    return Sample(
        "fax_forms", "Every way of writing a fax address in To/Cc, groups, a duplicate, a colleague",
        _crlf(raw),
        ("[FAX:Jane Doe@+1 (212) 555-0111]", "FAX:Bob Roe@+1 (212) 555-0112",
         "FAX=+12125550113@gateway.example",
         "fax=Carl Poe@+1 212 555 0114@gateway.example", "[FAX:+1 (212) 555-0115]",
         "12125550116@fax.example.com", "bob@allowed.example"),
        "alice@allowed.example",
        Expected(
            sender="alice@allowed.example", subject="One letter, six fax numbers",
            recipients=(("+1 (212) 555-0111", "Jane Doe"), ("+1 (212) 555-0112", "Bob Roe"),
                        ("+12125550113", "Acme"), ("+1 212 555 0114", "Carl Poe"),
                        ("+1 (212) 555-0115", "Outlook Contact"), ("12125550116", "Dana")),
            rcpt_recipients=(("+1 (212) 555-0111", "Jane Doe"), ("+1 (212) 555-0112", "Bob Roe"),
                             ("+12125550113", "Acme"), ("+1 212 555 0114", "Carl Poe"),
                             ("+1 (212) 555-0115", "Outlook Contact"), ("12125550116", "Dana")),
            attachments=(pdf,), other_recipients=("bob@allowed.example",),
        ),
    )


def _subject_number() -> Sample:
    pdf = _doc("drawing.pdf")
    raw = f"""\
{_AUTH_PASS}From: Alice Sender <alice@allowed.example>
To: Fax Server <fax@allowed.example>
Subject: Fax to +1 212 555 0110: drawing rev. 3 (2024-05-17)
Date: Fri, 17 May 2024 14:00:00 +0000
Message-ID: <subject.1@allowed.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b2"

--b2
Content-Type: application/pdf; name="drawing.pdf"
Content-Disposition: attachment; filename="drawing.pdf"
Content-Transfer-Encoding: base64

{b64(pdf[2])}
--b2--
"""
    return Sample(
        "subject_number", "Sent to the fax mailbox with the number in the subject",
        _crlf(raw), ("fax@allowed.example",), "alice@allowed.example",
        Expected(sender="alice@allowed.example",
                 subject="Fax to +1 212 555 0110: drawing rev. 3 (2024-05-17)",
                 recipients=(("+1 212 555 0110", ""),), attachments=(pdf,),
                 other_recipients=("fax@allowed.example",)),
    )


def _bcc_only() -> Sample:
    pdf = _doc("memo.pdf")
    raw = f"""\
{_AUTH_PASS}From: Alice Sender <alice@allowed.example>
To: Bob Colleague <bob@allowed.example>
Subject: Memo
Date: Fri, 17 May 2024 15:00:00 +0000
Message-ID: <bcc.1@allowed.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b3"

--b3
Content-Type: text/plain; charset=utf-8

Memo attached; the fax copy went in Bcc.
--b3
Content-Type: application/pdf; name="memo.pdf"
Content-Transfer-Encoding: base64

{b64(pdf[2])}
--b3--
"""
    return Sample(
        "bcc_only", "The fax recipient is only in Bcc: visible in the SMTP envelope, not in the headers",
        _crlf(raw), ("bob@allowed.example", "12125550117@fax.example.com"), "alice@allowed.example",
        Expected(sender="alice@allowed.example", subject="Memo", recipients=(), attachments=(pdf,),
                 body="Memo attached; the fax copy went in Bcc.", other_recipients=("bob@allowed.example",),
                 rcpt_recipients=(("12125550117", ""),)),
    )


# S/MIME --------------------------------------------------------------------------------------------

@functools.cache
def _signer() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    return _certificate(key, "Alice Sender", "alice@allowed.example"), key


@functools.cache
def _recipient() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _certificate(key, "umfax", "fax@allowed.example"), key


def _certificate(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, name: str, email: str
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.EMAIL_ADDRESS, email)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .sign(key, hashes.SHA256())
    )


def signer_certificate() -> x509.Certificate:
    """The self-signed certificate that signed the S/MIME samples."""
    return _signer()[0]


def recipient_key() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """The certificate and key the ``smime_encrypted`` sample is encrypted to."""
    return _recipient()


_SIGNED_CONTENT_TEXT = "Signed with S/MIME; the order form is attached."


def _signed_content(pdf: Doc) -> bytes:
    """The MIME entity that is signed (canonical: CRLF)."""
    return _crlf(f"""\
Content-Type: multipart/mixed; boundary="signed-inner"

--signed-inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 7bit

{_SIGNED_CONTENT_TEXT}
--signed-inner
Content-Type: application/pdf; name="order-form.pdf"
Content-Disposition: attachment; filename="order-form.pdf"
Content-Transfer-Encoding: base64

{b64(pdf[2])}
--signed-inner--
""")


def _smime_headers(subject: str, message_id: str) -> str:
    return f"""\
{_AUTH_PASS}From: Alice Sender <alice@allowed.example>
To: 12125550110@fax.example.com
Subject: {subject}
Date: Fri, 17 May 2024 16:00:00 +0000
Message-ID: <{message_id}@allowed.example>
MIME-Version: 1.0
"""


def _smime_signed() -> Sample:
    pdf = _doc("order-form.pdf")
    content = _signed_content(pdf)
    cert, key = _signer()
    signature = (pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(cert, key, hashes.SHA256())
                 .sign(Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]))
    head = _smime_headers("Signed order form", "smime.signed")
    tail = f"""
------=_Part_S1
Content-Type: application/pkcs7-signature; name="smime.p7s"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="smime.p7s"
Content-Description: S/MIME Cryptographic Signature

{b64(signature)}
------=_Part_S1--
"""
    raw = (_crlf(head + 'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\n'
                 '\tmicalg=sha-256; boundary="----=_Part_S1"\n\nThis is an S/MIME signed message\n\n'
                 "------=_Part_S1\n") + content + _crlf(tail))
    return Sample(
        "smime_signed", "S/MIME multipart/signed (really signed): the content is faxed, smime.p7s dropped",
        raw, ("12125550110@fax.example.com",), "alice@allowed.example",
        Expected(sender="alice@allowed.example", subject="Signed order form",
                 recipients=(("12125550110", ""),),
                 attachments=(pdf,), body=_SIGNED_CONTENT_TEXT,
                 notes=("smime.p7s was the S/MIME signature and is not faxed",)),
    )


def _smime_opaque() -> Sample:
    pdf = _doc("order-form.pdf")
    content = _signed_content(pdf)
    cert, key = _signer()
    der = (pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(cert, key, hashes.SHA256())
           .sign(Encoding.DER, [pkcs7.PKCS7Options.Binary]))
    raw = f"""\
{_smime_headers("Opaque signed order form", "smime.opaque")}\
Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="smime.p7m"

{b64(der)}
"""
    return Sample(
        "smime_opaque", "S/MIME opaque signed smime.p7m (CMS SignedData): unwrapped and read as the message",
        _crlf(raw), ("12125550110@fax.example.com",), "alice@allowed.example",
        Expected(sender="alice@allowed.example", subject="Opaque signed order form",
                 recipients=(("12125550110", ""),), attachments=(pdf,), body=_SIGNED_CONTENT_TEXT,
                 notes=("smime.p7m was S/MIME signed: its content is faxed, the signature is not",)),
    )


def _smime_encrypted() -> Sample:
    content = _signed_content(_doc("order-form.pdf"))
    cert, _ = _recipient()
    der = pkcs7.PKCS7EnvelopeBuilder().set_data(content).add_recipient(cert).encrypt(Encoding.DER, [])
    raw = f"""\
{_smime_headers("Encrypted order form", "smime.encrypted")}\
Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="smime.p7m"

{b64(der)}
"""
    return Sample(
        "smime_encrypted", "S/MIME encrypted (enveloped-data): refused, send it unencrypted",
        _crlf(raw), ("12125550110@fax.example.com",), "alice@allowed.example",
        Expected(sender="alice@allowed.example", subject="Encrypted order form",
                 recipients=(("12125550110", ""),), error="encrypted mail can't be faxed"),
    )


# Hostile -----------------------------------------------------------------------------------------

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


_BUILDERS: dict[str, Callable[[], Sample]] = {
    "outlook_365": _outlook_365,
    "outlook_2016_imceafax": _outlook_2016_imceafax,
    "outlook_winmail": _outlook_winmail,
    "gmail": _gmail,
    "apple_mail": _apple_mail,
    "apple_mail_html": _apple_mail_html,
    "thunderbird_flowed": _thunderbird_flowed,
    "html_only": _html_only,
    "long_lines": _long_lines,
    "rfc2231_filename": _rfc2231,
    "forwarded_eml": _forwarded,
    "fax_forms": _fax_forms,
    "subject_number": _subject_number,
    "bcc_only": _bcc_only,
    "smime_signed": _smime_signed,
    "smime_opaque": _smime_opaque,
    "smime_encrypted": _smime_encrypted,
    "no_attachment": _no_attachment,
    "zip_of_pdfs": _zip_of_pdfs,
    "huge_attachment": _huge_attachment,
    "malformed_no_boundary": _malformed_no_boundary,
    "malformed_unterminated": _malformed_unterminated,
    "malformed_encodings": _malformed_encodings,
    "forged_sender": _forged_sender,
    "bounce": _bounce,
    "auto_reply": _auto_reply,
}

NAMES: tuple[str, ...] = tuple(_BUILDERS)
HEAVY: frozenset[str] = frozenset({"huge_attachment"})  # tens of MB: skip where size is beside the point
LIGHT: tuple[str, ...] = tuple(n for n in NAMES if n not in HEAVY)
VALID: tuple[str, ...] = tuple(n for n in NAMES if n not in {  # parse without MailError
    "outlook_winmail", "smime_encrypted", "zip_of_pdfs", "huge_attachment"})


@functools.cache
def sample(name: str) -> Sample:
    """The corpus entry ``name`` (one of :data:`NAMES`)."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise KeyError(f"no corpus message {name!r}; choose from {', '.join(NAMES)}") from None
    return builder()


def message(name: str) -> bytes:
    """The raw bytes (CRLF) of corpus message ``name``."""
    return sample(name).raw
