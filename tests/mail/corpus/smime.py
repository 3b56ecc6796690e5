"""S/MIME messages (signed detached, signed opaque, encrypted) with throwaway certificates."""

from __future__ import annotations

import datetime as dt
import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import NameOID

from tests.mail.corpus.documents import _AUTH_PASS, Doc, Expected, Sample, _crlf, _doc, b64


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
