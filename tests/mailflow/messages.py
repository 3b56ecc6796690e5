"""Small mail messages for the intake tests (the client-shaped corpus is tests/mail/corpus/)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from umfax.conversion.pdf_out import serialize_pdf

DOMAIN = "fax.example.com"


def tiny_pdf(text: str = "Contract") -> bytes:
    content = f"BT /F1 24 Tf 72 700 Td ({text}) Tj ET".encode()
    return serialize_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ],
        root=1,
    )


def fax_mail(
    to: str | list[str] = f"12125550110@{DOMAIN}",
    sender: str = "ann@example.com",
    subject: str = "Contract",
    body: str = "Please sign and return.",
    pdf: bytes | None = None,
    attach: bool = True,
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = f"Ann Example <{sender}>"
    message["To"] = ", ".join(to) if isinstance(to, list) else to
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="example.com")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if attach:
        message.add_attachment(
            pdf or tiny_pdf(), maintype="application", subtype="pdf", filename="contract.pdf"
        )
    return bytes(message)
