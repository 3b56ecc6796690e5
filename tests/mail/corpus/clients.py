"""Messages from other clients and in other encodings: long lines, RFC 2231 names, forwarded
mail, format=flowed, HTML only, fax forms, a number in the subject, Bcc only."""

from __future__ import annotations

from tests.mail.corpus.documents import _AUTH_PASS, Expected, Sample, _crlf, _doc, b64, minimal_pdf, tiff


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
