"""Messages as Gmail and Apple Mail send them."""

from __future__ import annotations

from tests.mail.corpus.documents import _AUTH_PASS, AUTHSERV_ID, Expected, Sample, _crlf, _doc, b64, qp


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
