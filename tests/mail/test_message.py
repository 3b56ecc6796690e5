"""From a mail message to a fax: the corpus of real clients' messages, and hostile input."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.serialization import pkcs7
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.mail import corpus
from umfax.errors import MailError
from umfax.mail import message as message_module
from umfax.mail.auth_results import AuthResult, parse_authentication_results
from umfax.mail.cms import cms_signed_content
from umfax.mail.html_text import html_to_text
from umfax.mail.message import Attachment, MailFax, parse_message
from umfax.mail.parts import TNEF_ERROR

DOMAINS = corpus.FAX_DOMAINS


def parse(raw: bytes, **kwargs: object) -> MailFax:
    return parse_message(raw, fax_domains=DOMAINS, **kwargs)  # type: ignore[arg-type]


def build(body: str, *, headers: str = "", ctype: str = "text/plain; charset=utf-8") -> bytes:
    """A small message: ``headers`` (lines) before the usual ones, ``body`` as given."""
    return corpus._crlf(
        f"{headers}From: Alice <alice@allowed.example>\nTo: 12125550110@fax.example.com\n"
        f"Subject: Test\nMessage-ID: <t@allowed.example>\nMIME-Version: 1.0\nContent-Type: {ctype}\n\n{body}"
    )


def pdf_part(name: str, data: bytes, *, ctype: str = "application/pdf", extra: str = "") -> str:
    return (f"Content-Type: {ctype}; name=\"{name}\"\nContent-Transfer-Encoding: base64\n{extra}\n"
            f"{corpus.b64(data)}\n")


def mixed(*parts: str, boundary: str = "B") -> tuple[str, str]:
    body = "".join(f"--{boundary}\n{p}" for p in parts) + f"--{boundary}--\n"
    return body, f'multipart/mixed; boundary="{boundary}"'


# -- the corpus -------------------------------------------------------------------------------

def _check(mail: MailFax, expected: corpus.Expected, recipients: tuple[corpus.Recipient, ...]) -> None:
    assert mail.sender == expected.sender
    assert mail.subject == expected.subject
    assert [(r.number, r.name) for r in mail.recipients] == list(recipients)
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        (n, t) for n, t, _ in expected.attachments
    ]
    for got, (_, _, data) in zip(mail.attachments, expected.attachments, strict=True):
        assert got.data == data
    assert mail.body_text == expected.body
    assert mail.notes == list(expected.notes)
    assert mail.automatic is expected.automatic
    assert mail.other_recipients == list(expected.other_recipients)


@pytest.mark.parametrize("name", corpus.LIGHT)
def test_corpus_from_headers(name: str) -> None:
    sample = corpus.sample(name)
    expected = sample.expected
    if expected.error is not None:
        with pytest.raises(MailError, match=expected.error.replace("(", r"\(")):
            parse(sample.raw)
        return
    _check(parse(sample.raw), expected, expected.recipients)


@pytest.mark.parametrize("name", corpus.VALID)
def test_corpus_from_the_envelope(name: str) -> None:
    sample = corpus.sample(name)
    expected = sample.expected
    mail = parse(sample.raw, envelope_recipients=sample.rcpt)
    recipients = expected.rcpt_recipients if expected.rcpt_recipients is not None else expected.recipients
    assert [(r.number, r.name) for r in mail.recipients] == list(recipients)
    assert [a.data for a in mail.attachments] == [d for _, _, d in expected.attachments]


@pytest.mark.parametrize("name", ["outlook_365", "gmail", "apple_mail", "forwarded_eml", "smime_opaque",
                                  "rfc2231_filename", "malformed_unterminated"])
def test_corpus_with_bare_line_feeds(name: str) -> None:
    """Messages handed over with LF line ends (a maildir, a pipe) read the same."""
    sample = corpus.sample(name)
    lf = parse(sample.raw.replace(b"\r\n", b"\n"))
    crlf = parse(sample.raw)
    assert lf.body_text == crlf.body_text
    assert [(a.filename, a.data) for a in lf.attachments] == [(a.filename, a.data) for a in crlf.attachments]
    assert lf.recipients == crlf.recipients


def test_corpus_api() -> None:
    assert len(corpus.NAMES) == len(set(corpus.NAMES)) >= 25
    assert set(corpus.LIGHT) | corpus.HEAVY == set(corpus.NAMES)
    assert corpus.message("gmail") is corpus.sample("gmail").raw
    assert all(b"\r\n" in corpus.message(n) and b"\n\n" not in corpus.message(n) for n in corpus.LIGHT)
    with pytest.raises(KeyError, match="no corpus message"):
        corpus.sample("nope")
    assert corpus.minimal_pdf("a").startswith(b"%PDF-1.4") and corpus.minimal_pdf("a").endswith(b"%%EOF\n")


def test_huge_attachment_is_refused_with_its_name_and_the_limit() -> None:
    with pytest.raises(MailError) as err:
        parse(corpus.message("huge_attachment"))
    assert str(err.value) == (
        "big-scan.pdf is 50 MB, over the limit of 25 MB for a fax attachment: "
        "send smaller files or split the document"
    )


def test_outlook_365_headers() -> None:
    mail = parse(corpus.message("outlook_365"))
    assert mail.message_id == "DM6PR11MB41237C1E1D2A4B8F9@DM6PR11MB4123.namprd11.prod.outlook.com"
    assert mail.sender_name == "Alice Sender"
    assert mail.date == datetime(2024, 5, 14, 9, 12, 33, tzinfo=UTC)
    assert mail.return_path is None and mail.reply_to == ""
    assert mail.recipients[0].written == "12125550110@fax.example.com"
    assert [(r.method, r.result) for r in mail.authentication_results] == [
        ("spf", "pass"), ("dkim", "pass"), ("dmarc", "pass")]
    # the inline logo (cid: in the HTML) is part of the body, not a document
    assert all(not a.filename.startswith("image001") for a in mail.attachments)


def test_imceafax_forms_in_the_corpus() -> None:
    mail = parse(corpus.message("outlook_2016_imceafax"))
    assert [r.form for r in mail.recipients] == ["imceafax", "imceafax"]
    assert mail.sender_name == "Sender, Alice"


def test_forged_sender_keeps_every_authentication_result() -> None:
    mail = parse(corpus.message("forged_sender"))
    assert mail.authentication_results == [
        AuthResult("mx.allowed.example", "spf", "fail", {"smtp.mailfrom": "allowed.example"}),
        AuthResult("mx.allowed.example", "dkim", "none", {"header.d": "none"}),
        AuthResult("mx.allowed.example", "dmarc", "fail", {"action": "quarantine",
                                                           "header.from": "allowed.example"}),
        AuthResult("evil.example", "dkim", "pass", {"header.d": "allowed.example"}),
    ]
    assert mail.return_path == "bounce@evil.example"
    assert not mail.automatic


def test_bounce_is_automatic_with_a_null_return_path() -> None:
    mail = parse(corpus.message("bounce"))
    assert mail.return_path == ""
    assert mail.automatic


def test_smime_corpus_is_really_signed_and_encrypted() -> None:
    """The S/MIME samples are what real clients send: the signer's certificate is in the
    signatures, and the encrypted one decrypts to the order form."""
    signed = parse_message(corpus.message("smime_signed"))
    assert signed.notes == ["smime.p7s was the S/MIME signature and is not faxed"]
    raw = corpus.message("smime_signed")
    p7s = raw.split(b'filename="smime.p7s"')[1].split(b"\r\n\r\n", 1)[1].split(b"------=_Part_S1--")[0]
    certs = pkcs7.load_der_pkcs7_certificates(base64.b64decode(p7s))
    assert certs == [corpus.signer_certificate()]
    opaque = corpus.message("smime_opaque").split(b"\r\n\r\n", 1)[1]
    content = cms_signed_content(base64.b64decode(opaque))
    assert content is not None and b"order-form.pdf" in content
    cert, key = corpus.recipient_key()
    encrypted = base64.b64decode(corpus.message("smime_encrypted").split(b"\r\n\r\n", 1)[1])
    plain = pkcs7.pkcs7_decrypt_der(encrypted, cert, key, [])
    assert b"order-form.pdf" in plain


# -- S/MIME and CMS ----------------------------------------------------------------------------

def _ber(tag: int, *children: bytes, indefinite: bool = False) -> bytes:
    content = b"".join(children)
    if indefinite:
        return bytes([tag, 0x80]) + content + b"\x00\x00"
    n = len(content)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + content


OID_SIGNED = bytes.fromhex("06092a864886f70d010702")
OID_DATA = bytes.fromhex("06092a864886f70d010701")
OID_ENVELOPED = bytes.fromhex("06092a864886f70d010703")


def _signed_data(content: bytes | None, *, indefinite: bool) -> bytes:
    """SignedData as Outlook writes it: BER, indefinite lengths, the content in chunks."""
    encap = [OID_DATA]
    if content is not None:
        chunks = [_ber(0x04, content[i : i + 50]) for i in range(0, len(content), 50)]
        encap.append(_ber(0xA0, _ber(0x24, *chunks, indefinite=indefinite), indefinite=indefinite))
    signed = _ber(0x30, _ber(0x02, b"\x01"), _ber(0x31), _ber(0x30, *encap, indefinite=indefinite),
                  _ber(0x31), indefinite=indefinite)
    return _ber(0x30, OID_SIGNED, _ber(0xA0, signed, indefinite=indefinite), indefinite=indefinite)


def _p7m(der: bytes, smime_type: str = "signed-data") -> bytes:
    param = f"; smime-type={smime_type}" if smime_type else ""
    return build(corpus.b64(der) + "\n", ctype=f'application/pkcs7-mime{param}; name="smime.p7m"',
                 headers="Content-Transfer-Encoding: base64\n")


INNER = corpus._crlf(
    "Content-Type: text/plain; charset=utf-8\n\nSigned text that is long enough to be chunked.\n"
)


@pytest.mark.parametrize("indefinite", [True, False])
def test_ber_signed_data_is_unwrapped(indefinite: bool) -> None:
    der = _signed_data(INNER, indefinite=indefinite)
    assert cms_signed_content(der) == INNER
    mail = parse(_p7m(der))
    assert mail.body_text == "Signed text that is long enough to be chunked."


def test_p7m_without_smime_type_is_recognised_by_its_content() -> None:
    mail = parse(_p7m(_signed_data(INNER, indefinite=False), smime_type=""))
    assert mail.body_text.startswith("Signed text")
    enveloped = _ber(0x30, OID_ENVELOPED, _ber(0xA0, _ber(0x30, _ber(0x02, b"\x00"))))
    with pytest.raises(MailError, match="encrypted mail can't be faxed: send it again unencrypted"):
        parse(_p7m(enveloped, smime_type=""))


def test_detached_or_broken_p7m() -> None:
    with pytest.raises(MailError, match="signature without the signed message"):
        parse(_p7m(_signed_data(None, indefinite=False)))
    with pytest.raises(MailError, match=r"smime\.p7m is not a readable S/MIME message"):
        parse(_p7m(b"\x30\x82\xff\xff garbage"))
    with pytest.raises(MailError, match="not a readable S/MIME"):
        parse(_p7m(_signed_data(INNER, indefinite=True)[:-7]))


def test_pgp() -> None:
    signed_body, ctype = mixed("Content-Type: text/plain\n\nHello\n",
                               "Content-Type: application/pgp-signature; name=\"signature.asc\"\n\nsig\n")
    ctype = ctype.replace("multipart/mixed", "multipart/signed")
    mail = parse(build(signed_body, ctype=ctype + '; protocol="application/pgp-signature"'))
    assert mail.body_text == "Hello"
    assert mail.notes == ["signature.asc was the OpenPGP signature and is not faxed"]
    body, ctype = mixed("Content-Type: application/pgp-encrypted\n\nVersion: 1\n",
                        "Content-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\n")
    with pytest.raises(MailError, match=r"encrypted \(OpenPGP\)"):
        parse(build(body, ctype=ctype.replace("multipart/mixed", "multipart/encrypted")))


# -- attachments -------------------------------------------------------------------------------

def test_inline_image_referenced_by_cid_is_not_an_attachment_but_attached_images_are() -> None:
    logo, photo = corpus.png((1, 2, 3)), corpus.png((4, 5, 6))
    body, ctype = mixed(
        'Content-Type: text/html\n\n<p>Hi <img src="cid:logo%40x"></p>\n',
        pdf_part("logo.png", logo, ctype="image/png",
                 extra="Content-ID: <logo@x>\nContent-Disposition: inline\n"),
        pdf_part("photo.png", photo, ctype="image/png", extra="Content-ID: <photo@x>\n"),
    )
    mail = parse(build(body, ctype=ctype))
    assert mail.attachments == [Attachment("photo.png", "image/png", photo)]
    assert mail.body_text == "Hi"


def test_unnamed_and_vague_types() -> None:
    pdf, tif = corpus.minimal_pdf("x"), corpus.tiff()
    body, ctype = mixed(
        "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        f"{corpus.b64(pdf)}\n",
        pdf_part("fax.TIFF", tif, ctype="application/octet-stream"),
        "Content-Type: text/csv; charset=ISO-8859-1\nContent-Disposition: attachment\n\na;b\n",
        pdf_part("data.bin", b"\x00\x01", ctype="application/octet-stream"),
    )
    mail = parse(build(body, ctype=ctype))
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("attachment-1.pdf", "application/pdf"),
        ("fax.TIFF", "image/tiff"),
        ("attachment-3.csv", "text/csv; charset=iso-8859-1"),
        ("data.bin", "application/octet-stream"),
    ]
    assert mail.attachments[0].data == pdf
    assert mail.attachments[2].data == b"a;b"


def test_print_rasters_are_typed_by_sync_word_and_extension() -> None:
    pwg, urf = b"RaS2" + bytes(40), b"UNIRAST\x00" + bytes(40)
    body, ctype = mixed(
        "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        f"{corpus.b64(pwg)}\n",
        pdf_part("phone.urf", urf, ctype="application/octet-stream"),
    )
    mail = parse(build(body, ctype=ctype))
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("attachment-1.pwg", "image/pwg-raster"),
        ("phone.urf", "image/urf"),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("C:\\fakepath\\report.pdf", "report.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("tab\tand\x07bell.pdf", "tabandbell.pdf"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_filenames_are_made_safe(name: str, expected: str) -> None:
    body, ctype = mixed(pdf_part(name.replace('"', ""), b"%PDF-1.4 x"))
    mail = parse(build(body, ctype=ctype))
    assert mail.attachments[0].filename == expected


def test_text_attachment_with_a_name_is_an_attachment_and_empty_ones_are_noted() -> None:
    body, ctype = mixed(
        "Content-Type: text/plain\n\nThe body.\n",
        'Content-Type: text/plain; charset=utf-8; name="notes.txt"\nContent-Disposition: inline\n\nNotes\n',
        'Content-Type: application/pdf; name="empty.pdf"\n\n',
    )
    mail = parse(build(body, ctype=ctype))
    assert mail.body_text == "The body."
    assert mail.attachments == [Attachment("notes.txt", "text/plain; charset=utf-8", b"Notes")]
    assert mail.notes == ["empty.pdf is empty and is not faxed"]


@pytest.mark.parametrize(
    ("part", "message"),
    [
        ('Content-Type: application/octet-stream; name="docs.zip"\n\nPK\x03\x04',
         "docs.zip is a zip archive, and zip archives are not faxed: attach the documents themselves"),
        ("Content-Type: application/zip\n\nPK\x03\x04",
         "an attachment is a zip archive, and zip archives are not faxed: attach the documents themselves"),
        ('Content-Type: application/x-7z-compressed; name="a.7z"\n\n7z',
         "a.7z is an archive, and archives are not faxed: attach the documents themselves"),
        ('Content-Type: application/octet-stream; name="WINMAIL.DAT"\n\nx', TNEF_ERROR),
        ("Content-Type: message/partial; id=x; number=1\n\nx", "split in parts"),
    ],
)
def test_refused_attachments(part: str, message: str) -> None:
    body, ctype = mixed("Content-Type: text/plain\n\nHi\n", part + "\n")
    with pytest.raises(MailError) as err:
        parse(build(body, ctype=ctype))
    assert message in str(err.value)


def test_attachment_limits() -> None:
    raw = corpus.message("gmail")
    with pytest.raises(MailError, match=r"^PO-4471\.pdf is \d+ bytes, over the limit of 100 bytes for a fax"):
        parse(raw, max_attachment_bytes=100)
    with pytest.raises(MailError, match="has 2 attachments, and at most 1 can be faxed from one message"):
        parse(raw, max_attachments=1)
    assert len(parse(raw, max_attachments=2).attachments) == 2


def test_alternative_renderings_are_not_attachments() -> None:
    inner = (
        "Content-Type: multipart/alternative; boundary=A\n\n"
        "--A\nContent-Type: text/plain\n\nMeeting at 10.\n"
        "--A\nContent-Type: text/html\n\n<p>Meeting at <b>10</b>.</p>\n"
        "--A\nContent-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\n--A--\n"
    )
    mail = parse(build(inner.split("\n\n", 1)[1], ctype="multipart/alternative; boundary=A"))
    assert mail.body_text == "Meeting at 10."
    assert mail.attachments == []


def test_html_is_used_when_there_is_no_plain_text() -> None:
    body = ("--A\nContent-Type: text/plain\n\n\n--A\nContent-Type: text/html; charset=utf-8\n\n"
            "<div>Line one<br>Line two</div><div>&lt;three&gt;</div>\n--A--\n")
    mail = parse(build(body, ctype="multipart/alternative; boundary=A"))
    assert mail.body_text == "Line one\nLine two\n<three>"


def test_forwarded_message_without_attachments_is_noted() -> None:
    body, ctype = mixed(
        "Content-Type: text/plain\n\nSee below.\n",
        "Content-Type: message/rfc822\n\nFrom: x@y.example\nSubject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?=\n\nHello\n",
    )
    mail = parse(build(body, ctype=ctype))
    assert mail.body_text == "See below."
    assert mail.attachments == []
    assert mail.notes == [
        'the forwarded message "Grüße" is not faxed (only attachments of forwarded messages are)'
    ]


def test_nested_forwarded_messages() -> None:
    pdf = corpus.minimal_pdf("deep")
    inner = "Content-Type: multipart/mixed; boundary=I\n\n--I\n" + pdf_part("deep.pdf", pdf) + "--I--\n"
    middle = "Subject: middle\nContent-Type: message/rfc822\n\nSubject: inner\n" + inner
    mail = parse(build(middle, ctype="message/rfc822"))
    assert mail.attachments == [Attachment("deep.pdf", "application/pdf", pdf)]



def test_base64_encoded_forwarded_message_is_read() -> None:
    """Not allowed for message/rfc822 (RFC 2046 5.2.1), but some clients write it."""
    pdf = corpus.minimal_pdf("inner")
    inner = corpus._crlf("From: x@y.example\nSubject: Inner\nContent-Type: multipart/mixed; boundary=I\n\n"
                         "--I\n" + pdf_part("in.pdf", pdf) + "--I--\n")
    body, ctype = mixed("Content-Type: text/plain\n\nSee.\n",
                        "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
                        + corpus.b64(inner) + "\n")
    mail = parse(build(body, ctype=ctype))
    assert mail.attachments == [Attachment("in.pdf", "application/pdf", pdf)]
    assert mail.notes == ['the forwarded message "Inner": its attachments are faxed, its text is not']


def test_truncated_base64_and_uuencode_are_decoded() -> None:
    pdf = corpus.minimal_pdf("cut")
    encoded = base64.b64encode(pdf).decode()
    dangling = encoded[: len(encoded) // 4 * 4 - 3]  # one character past a complete group
    uu = "begin 644 u.pdf\n" + "".join(
        binascii.b2a_uu(pdf[i : i + 45]).decode() for i in range(0, len(pdf), 45)) + "`\nend\n"
    body, ctype = mixed(
        f"Content-Type: application/pdf; name=cut.pdf\nContent-Transfer-Encoding: base64\n\n{dangling}\n",
        f"Content-Type: application/pdf; name=u.pdf\nContent-Transfer-Encoding: x-uuencode\n\n{uu}",
    )
    cut, whole = parse(build(body, ctype=ctype)).attachments
    assert cut.data == pdf[: len(dangling) // 4 * 3]
    assert whole.data == pdf


def test_malformed_content_types() -> None:
    body, ctype = mixed(
        'Content-Type: appli cation/pdf; name="note.txt"\n\nhello\n',
        "Content-Type: application/pdf; name*=utf-8''a.pdf; name*0=b.pdf\n\n%PDF-1.4 x\n",
    )
    mail = parse(build(body, ctype=ctype))
    # a malformed type is the default (RFC 2045 5.2); a name the stdlib cannot collapse is no name
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("note.txt", "text/plain"), ("attachment-2.pdf", "application/pdf")]


def test_a_lone_carriage_return_ends_a_line() -> None:
    """As in the stdlib parser: CR, LF and CRLF all end a line."""
    mail = parse(b"From: a@allowed.example\rSubject: x\r\n\r\nHi")
    assert (mail.sender, mail.subject, mail.body_text) == ("a@allowed.example", "x", "Hi")


# -- text --------------------------------------------------------------------------------------

def test_format_flowed_delsp_and_signature() -> None:
    raw = build("Joined with\nno space \nand --\n-- \nSig\n",
                ctype="text/plain; format=flowed; delsp=yes")
    assert parse(raw).body_text == "Joined with\nno spaceand --\n-- \nSig"


def test_html_to_text() -> None:
    assert html_to_text("<pre>a\n  b</pre><p>c&amp;d</p>") == "a\n  b\n\nc&d"
    assert html_to_text("x<br><br>y") == "x\n\ny"
    assert html_to_text("<style>p{}</style><script>x()</script>Only this") == "Only this"
    assert html_to_text("<ol><li>one</li><li>two</li></ol>") == "- one\n- two"
    assert html_to_text("<unclosed <b>bold") == "bold"


def test_subject_and_names_are_decoded() -> None:
    raw = build("x", headers="Reply-To: =?utf-8?Q?B=C3=BCro?= <Office@Allowed.example>\n").replace(
        b"Subject: Test", b"Subject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?=\r\n  aus =?utf-8?B?S8O2bG4=?=")
    mail = parse(raw)
    assert mail.subject == "Grüße aus Köln"
    assert mail.reply_to == "office@allowed.example"


def test_raw_utf8_and_latin1_headers() -> None:
    raw = build("x").replace(b"Subject: Test", "Subject: Grüße".encode()).replace(
        b"From: Alice", "From: Zoë".encode("latin-1"))
    mail = parse(raw)
    assert mail.subject == "Grüße"
    assert mail.sender_name == "Zoë"


# -- automatic mail ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("headers", "automatic"),
    [
        ("", False),
        ("Auto-Submitted: no\n", False),
        ("Auto-Submitted: auto-generated\n", True),
        ("Auto-Submitted: auto-replied; owner-email=x@y\n", True),
        ("Precedence: bulk\n", True),
        ("Precedence: junk\n", True),
        ("Precedence: list\n", True),
        ("Precedence: first-class\n", False),
        ("List-Id: <news.allowed.example>\n", True),
        ("Return-Path: <>\n", True),
        ("Return-Path: <alice@allowed.example>\n", False),
        ("X-Auto-Response-Suppress: All\n", True),
        ("X-Auto-Response-Suppress: DR, OOF, AutoReply\n", False),
    ],
)
def test_automatic(headers: str, automatic: bool) -> None:
    assert parse(build("x", headers=headers)).automatic is automatic


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example", "postmaster@example.org"])
def test_daemon_senders_are_automatic(sender: str) -> None:
    raw = build("x").replace(b"From: Alice <alice@allowed.example>", f"From: {sender}".encode())
    assert parse(raw).automatic


# -- Authentication-Results ----------------------------------------------------------------------

def test_parse_authentication_results() -> None:
    value = ('mx.example.com 1 (our server); spf = pass (good) smtp.mailfrom="a@b.example";'
             ' dkim/1=PASS header.d=b.example header.s=s1 (comment; with semicolon);'
             ' dmarc=fail reason="policy; p=reject" header.from=b.example; iprev=pass policy.iprev=192.0.2.1')
    assert parse_authentication_results(value) == [
        AuthResult("mx.example.com", "spf", "pass", {"smtp.mailfrom": "a@b.example"}),
        AuthResult("mx.example.com", "dkim", "pass", {"header.d": "b.example", "header.s": "s1"}),
        AuthResult("mx.example.com", "dmarc", "fail",
                   {"reason": "policy; p=reject", "header.from": "b.example"}),
        AuthResult("mx.example.com", "iprev", "pass", {"policy.iprev": "192.0.2.1"}),
    ]
    assert parse_authentication_results("mx.example.com; none") == []
    assert parse_authentication_results("") == []
    assert parse_authentication_results(";;; =; spf=") == []


# -- hostile input -------------------------------------------------------------------------------

def test_empty_and_headerless_messages() -> None:
    empty = parse(b"")
    assert (empty.sender, empty.subject, empty.body_text) == ("", "", "")
    assert empty.attachments == [] and empty.recipients == []
    assert empty.return_path is None and empty.date is None and empty.message_id == ""
    assert parse(b"just some text\r\nwithout headers").body_text == "just some text\nwithout headers"
    mbox = parse(b"From alice@allowed.example Fri May 17 10:00:00 2024\nFrom: a@allowed.example\n\nHi\n")
    assert mbox.sender == "a@allowed.example" and mbox.body_text == "Hi"


def test_deep_nesting_is_refused() -> None:
    depth = 60
    body = "".join(f"--b{i}\nContent-Type: multipart/mixed; boundary=b{i + 1}\n\n" for i in range(depth))
    with pytest.raises(MailError, match="nested too deeply"):
        parse(build(body + "--x\n\nend\n", ctype="multipart/mixed; boundary=b0"))
    rfc822 = "Content-Type: message/rfc822\n\n" * 60 + "\nHi"
    with pytest.raises(MailError, match="nested too deeply"):
        parse(build(rfc822, ctype="message/rfc822"))


def test_too_many_parts_is_refused() -> None:
    body, ctype = mixed(*["Content-Type: text/plain\n\nx\n"] * 2500)
    with pytest.raises(MailError, match="more than 2000 MIME parts"):
        parse(build(body, ctype=ctype))


def test_a_bug_becomes_a_mail_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(value: str) -> None:
        raise ZeroDivisionError

    monkeypatch.setattr(message_module, "_date", broken)
    with pytest.raises(MailError, match="could not be read"):
        parse(build("x"))


def test_boundary_prefix_of_another_line_is_not_a_delimiter() -> None:
    body = "--B\nContent-Type: text/plain\n\nline\n--Bogus line stays\n--B--\n"
    assert parse(build(body, ctype="multipart/mixed; boundary=B")).body_text == "line\n--Bogus line stays"


def test_wrong_boundary_parameter_is_recovered() -> None:
    body = "--real\nContent-Type: text/plain\n\nrecovered\n--real--\n"
    assert parse(build(body, ctype="multipart/mixed; boundary=declared")).body_text == "recovered"


def test_multipart_without_any_boundary_is_text() -> None:
    assert parse(build("plain words\n", ctype="multipart/mixed")).body_text == "plain words"


def _mutations() -> st.SearchStrategy[bytes]:
    names = [n for n in corpus.LIGHT if n not in ("smime_encrypted",)]

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        raw = bytearray(corpus.message(draw(st.sampled_from(names))))
        for _ in range(draw(st.integers(1, 6))):
            op = draw(st.sampled_from(["cut", "flip", "insert", "delete"]))
            at = draw(st.integers(0, max(0, len(raw) - 1)))
            if op == "cut":
                del raw[at:]
            elif op == "flip" and raw:
                raw[min(at, len(raw) - 1)] = draw(st.integers(0, 255))
            elif op == "insert":
                raw[at:at] = draw(st.sampled_from([b"\r\n--", b"=?utf-8?B?", b"\r\n\r\n", b"boundary=",
                                                   b"Content-Type: multipart/mixed\r\n", b"\xff\xfe", b"=",
                                                   b"0\x80\x00\x00", b"\"", b"(", b"<", b"*0*="]))
            else:
                del raw[at : at + draw(st.integers(1, 200))]
        return bytes(raw)

    return mutate()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_mutated_corpus_never_raises_anything_but_mail_error(raw: bytes) -> None:
    try:
        mail = parse(raw)
    except MailError as exc:
        assert str(exc)
        return
    assert isinstance(mail.body_text, str)
    dataclasses.replace(mail)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise_anything_but_mail_error(raw: bytes) -> None:
    try:
        parse(b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n" + raw)
        parse(raw)
    except MailError:
        pass
