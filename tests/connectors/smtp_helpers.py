"""Shared pieces of the SMTP intake tests (test_smtp_*.py): a self-signed certificate, the
core's recording stand-in, client and config helpers.  The fixtures built on them
(``tls_files``, ``core``, ``start``) are in tests/connectors/conftest.py."""

from __future__ import annotations

import datetime as dt
import ipaddress
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors.smtp import SmtpIntake
from umfax.mail.intake import IntakeResult, MailRef, Outcome

PASSWORD_ENV = "UMFAX_TEST_SMTP_IN_PASSWORD"
PASSWORD = "s3cret-Pa55word"
FAX_DOMAIN = "fax.example.com"
GOOD = f"12125550110@{FAX_DOMAIN}"
GOOD2 = f"12125550111@{FAX_DOMAIN}"
MESSAGE = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: 12125550110@fax.example.com\r\n"
    b"Subject: fax\r\n"
    b"Message-ID: <m1@example.com>\r\n"
    b"\r\n"
    b"Hello\r\n"
)


# -- a certificate ------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this certificate, with hostname checks on."""
        return ssl.create_default_context(cafile=str(self.cert))


def make_self_signed(directory: Path, names: tuple[str, ...] = ("localhost",)) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1 (and ``names``) that is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "umfax test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), *(x509.DNSName(n) for n in names)]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "cert.pem", directory / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


# -- the core's stand-in ----------------------------------------------------------------


@dataclass
class Core:
    """Records what the connector hands over and answers as told."""

    result: IntakeResult = field(default_factory=lambda: IntakeResult(Outcome.QUEUED, (12, 13)))
    error: Exception | None = None
    gate: threading.Event | None = None  # accept waits for it
    recipient_error: Exception | None = None
    received: list[tuple[bytes, MailRef]] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    entered: threading.Event = field(default_factory=threading.Event)
    returned: threading.Event = field(default_factory=threading.Event)
    threads: list[str] = field(default_factory=list)

    def check_recipient(self, address: str) -> str | None:
        self.checked.append(address)
        if self.recipient_error is not None:
            raise self.recipient_error
        if address.lower().endswith("@" + FAX_DOMAIN):
            return None
        return f"<{address}> is not a fax address here (fax domains: {FAX_DOMAIN})"

    def accept(self, raw: bytes, ref: MailRef) -> IntakeResult:
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        try:
            if self.error is not None:
                raise self.error
            self.received.append((raw, ref))
            return self.result
        finally:
            self.returned.set()


Start = Callable[..., SmtpIntake]


def client(intake: SmtpIntake, timeout: float = 10.0) -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", intake.port, local_hostname="client.example.com", timeout=timeout)


def tls_kwargs(tls_files: TlsFiles, **more: Any) -> dict[str, Any]:
    return {"tls_cert": str(tls_files.cert), "tls_key": str(tls_files.key), **more}


def auth_kwargs(**more: Any) -> dict[str, Any]:
    return {"auth_username": "relay", "auth_password_env": PASSWORD_ENV, **more}


def assert_password_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        text = record.getMessage() + " " + " ".join(str(v) for v in vars(record).values())
        assert PASSWORD not in text
