"""Messages as Outlook sends them: Microsoft 365, Outlook 2016 with an IMCEAFAX address, TNEF."""

from __future__ import annotations

from tests.mail.corpus.documents import _AUTH_PASS, Expected, Sample, _crlf, _doc, b64, png, qp


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
