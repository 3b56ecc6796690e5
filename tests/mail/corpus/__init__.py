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

One module per family: :mod:`.documents` (documents, encoders, records), :mod:`.outlook`,
:mod:`.gmail_apple`, :mod:`.clients` (other clients and encodings), :mod:`.smime`, :mod:`.hostile`;
this module is the registry (:data:`NAMES`, :func:`sample`) and re-exports every public name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from tests.mail.corpus.clients import (
    _bcc_only,
    _fax_forms,
    _forwarded,
    _html_only,
    _long_lines,
    _rfc2231,
    _subject_number,
    _thunderbird_flowed,
)
from tests.mail.corpus.documents import (
    ALLOWED_DOMAIN,
    AUTHSERV_ID,
    FAX_DOMAINS,
    HUGE_BYTES,
    Doc,
    Expected,
    Recipient,
    Sample,
    _crlf,
    b64,
    minimal_pdf,
    png,
    qp,
    tiff,
)
from tests.mail.corpus.gmail_apple import _apple_mail, _apple_mail_html, _gmail
from tests.mail.corpus.hostile import (
    _auto_reply,
    _bounce,
    _forged_sender,
    _huge_attachment,
    _malformed_encodings,
    _malformed_no_boundary,
    _malformed_unterminated,
    _no_attachment,
    _zip_of_pdfs,
)
from tests.mail.corpus.outlook import _outlook_365, _outlook_2016_imceafax, _outlook_winmail
from tests.mail.corpus.smime import (
    _smime_encrypted,
    _smime_opaque,
    _smime_signed,
    recipient_key,
    signer_certificate,
)

__all__ = [
    "ALLOWED_DOMAIN", "AUTHSERV_ID", "FAX_DOMAINS", "HEAVY", "HUGE_BYTES", "LIGHT", "NAMES", "VALID",
    "Doc", "Expected", "Recipient", "Sample", "_crlf", "b64", "message", "minimal_pdf", "png", "qp",
    "recipient_key", "sample", "signer_certificate", "tiff",
]

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
