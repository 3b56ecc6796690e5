"""Which parts of a MIME tree are faxed: the message's own text and its attachments.

Sans-IO: :class:`PartWalker` reads parsed :class:`~email.message.Message` trees (from
:mod:`umfax.mail.mime`) and collects text and :class:`Attachment` records; what cannot be
faxed raises :class:`~umfax.errors.MailError` whose text is for the sender.

* Text: ``text/plain`` and ``text/html`` parts without a file name and not marked
  ``attachment`` are the message's own text.  Of ``multipart/alternative`` the plain
  text is preferred, else HTML made readable; ``format=flowed`` is unwrapped; the
  signature delimiter ``-- `` is kept.  Several text parts (Apple Mail writes text,
  attachment, text) are joined in order.
* Attachments: every other leaf part, in the order of the tree, except inline images
  that the HTML refers to (``cid:``), signatures, and the alternatives' own renderings.
  The richest ``multipart/alternative`` branch contributes its attachments (Apple Mail
  puts them in the HTML branch).  ``Content-Disposition: inline`` PDFs are attachments.
  A type of ``application/octet-stream`` is refined from the file name or the content.
* A forwarded message (``message/rfc822``, e.g. an attached ``.eml``): its attachments
  are faxed in place, its text is not (the sender is told, in ``notes``).  Keeping it
  simple: the forwarded text is usually a conversation, not a document to fax.
* S/MIME: ``multipart/signed`` faxes the signed content and drops the signature; an
  opaque ``smime.p7m`` (CMS SignedData, RFC 5652, read by :mod:`umfax.mail.cms`) is
  unwrapped and its content read as the message.  Signatures are not verified: whether
  mail is genuine is decided from Authentication-Results (see :mod:`umfax.mail.authorize`).
  Encrypted mail (S/MIME enveloped data, OpenPGP) is refused.
* Refused: TNEF (``winmail.dat``), archives (zip…), attachments over the size limit
  (judged from the encoded size before decoding), too many attachments, absurdly deep or
  large MIME trees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import unquote

from umfax.errors import MailError
from umfax.mail.cms import (
    OID_AUTH_ENVELOPED_DATA,
    OID_COMPRESSED_DATA,
    OID_ENVELOPED_DATA,
    BerError,
    cms_content_type,
    cms_signed_content,
)
from umfax.mail.mime import (
    content_type,
    decoded_text,
    header_text,
    param,
    parse_bytes,
    part_filename,
    part_text,
    payload_bytes,
    recover_boundary,
    strip_id,
    subparts,
    transfer_encoding,
)

__all__ = [
    "ENCRYPTED_ERROR",
    "MAX_DEPTH",
    "MAX_PARTS",
    "TNEF_ERROR",
    "Attachment",
    "Collected",
    "PartWalker",
]

MAX_DEPTH = 20  # nesting of multiparts, forwarded messages and S/MIME wrappers
MAX_PARTS = 2000


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # "type/subtype", lowercase; text types carry "; charset=…"
    data: bytes



_EXTENSIONS = {
    "application/pdf": ".pdf",
    "application/postscript": ".ps",
    "application/msword": ".doc",
    "application/rtf": ".rtf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "image/tiff": ".tif",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/webp": ".webp",
    "image/pwg-raster": ".pwg",  # what print clients send (issue 19)
    "image/urf": ".urf",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/csv": ".csv",
    "text/rtf": ".rtf",
    "text/calendar": ".ics",
    "message/rfc822": ".eml",
}
_TYPES_BY_EXTENSION = {ext: ctype for ctype, ext in _EXTENSIONS.items()} | {
    ".tiff": "image/tiff",
    ".jpeg": "image/jpeg",
    ".text": "text/plain",
    ".htm": "text/html",
    ".eps": "application/postscript",
}
_VAGUE_TYPES = {"application/octet-stream", "application/x-download", "application/download",
                "application/force-download", "application/binary", "application/unknown",
                "application/x-unknown", "binary/octet-stream"}
_MAGIC = ((b"%PDF-", "application/pdf"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
          (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"), (b"GIF8", "image/gif"),
          (b"RaS2", "image/pwg-raster"), (b"UNIRAST\x00", "image/urf"))
_ARCHIVE_EXTENSIONS = (".zip", ".7z", ".rar", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".zipx", ".cab")
_ZIP_TYPES = {"application/zip", "application/x-zip", "application/x-zip-compressed", "multipart/x-zip",
              "application/x-7z-compressed", "application/x-rar-compressed", "application/vnd.rar",
              "application/gzip", "application/x-gzip", "application/x-tar", "application/x-bzip2"}
_TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}
_SIGNATURE_TYPES = {
    "application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"
}
_PKCS7_MIME = {"application/pkcs7-mime", "application/x-pkcs7-mime"}
_BODY_TYPES = {"text/plain", "text/html"}

TNEF_ERROR = (
    "Outlook sent this message in its Rich Text format (TNEF, winmail.dat), which cannot be "
    "faxed: set the message format to HTML or Plain Text in Outlook (Format Text) and send it again"
)
ENCRYPTED_ERROR = (
    "this message is encrypted ({kind}), and encrypted mail can't be faxed: "
    "send it again unencrypted"
)


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f}".removesuffix(".0") + " MB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f}".removesuffix(".0") + " KB"
    return f"{n} bytes"


def _is_archive(name: str, ctype: str) -> bool:
    return ctype in _ZIP_TYPES or name.lower().endswith(_ARCHIVE_EXTENSIONS)


@dataclass(slots=True)
class Collected:
    """What a walk found: the text parts' text, and the attachments, in order."""

    texts: list[str] = field(default_factory=list)
    plain: bool = False  # some of the text came from text/plain
    attachments: list[Attachment] = field(default_factory=list)


_CID_REF = re.compile(r"""(?i)cid:([^"'\s)>]+)""")
_SRC_REF = re.compile(r"""(?i)(?:src|background|href)\s*=\s*["']?([^"'\s>]+)""")


class PartWalker:
    """One message's walk: parses (:meth:`read`) and walks (:meth:`walk`) its tree and the
    trees it wraps (S/MIME, forwarded messages), keeping the notes for the sender, the
    HTML's references and the limits across all of them."""

    def __init__(self, max_attachment_bytes: int) -> None:
        self.max_bytes = max_attachment_bytes
        self.notes: list[str] = []
        self.referenced: set[str] = set()  # cid: and src= references of the HTML
        self.parts = 0
        self.reparse_budget = 0  # boundary recovery reads each byte at most once more
        self.counter = 0

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def read(self, data: bytes, depth: int) -> Message:
        """``data`` parsed, its tree checked (depth, number of parts, boundaries) and what
        its HTML refers to noted."""
        message = parse_bytes(data)
        self.reparse_budget += len(data)
        self._check(message, depth)
        for part in message.walk():
            if content_type(part) == "text/html":
                html = decoded_text(part)
                self.referenced.update(unquote(m).lower() for m in _CID_REF.findall(html))
                self.referenced.update(unquote(m).lower() for m in _SRC_REF.findall(html))
        return message

    def _check(self, part: Message, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise MailError(
                f"the message is nested too deeply (more than {MAX_DEPTH} levels of parts); "
                "send the documents as plain attachments"
            )
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise MailError(
                f"the message has more than {MAX_PARTS} MIME parts; send fewer, plain attachments"
            )
        if part.get_content_maintype() == "multipart" and not part.is_multipart() and self.reparse_budget > 0:
            self.reparse_budget -= recover_boundary(part)
        for child in subparts(part):
            self._check(child, depth + 1)

    def walk(self, part: Message, out: Collected, depth: int, *, text: bool = True) -> None:
        ctype = content_type(part)
        name = part_filename(part)
        if ctype == "multipart/alternative":
            self._alternative(part, out, depth, text=text)
        elif ctype == "multipart/signed":
            self._signed(part, out, depth, text=text)
        elif ctype == "multipart/encrypted":
            raise MailError(ENCRYPTED_ERROR.format(kind="OpenPGP"))
        elif ctype.startswith("multipart/"):
            for child in subparts(part):
                self.walk(child, out, depth + 1, text=text)
        elif ctype in ("message/rfc822", "message/global"):
            self._forwarded(part, out, depth)
        elif ctype == "message/partial":
            raise MailError("the message arrived split in parts (message/partial); send it as one message")
        elif ctype.startswith("message/") or ctype == "text/rfc822-headers":
            return  # a report's machinery: delivery-status, disposition-notification, headers…
        elif ctype in _PKCS7_MIME or name.lower().endswith(".p7m"):
            self._pkcs7(part, out, depth, name, text=text)
        elif ctype in _TNEF_TYPES or name.lower() == "winmail.dat":
            raise MailError(TNEF_ERROR)
        elif ctype in _SIGNATURE_TYPES or name.lower().endswith((".p7s", ".sig.asc")):
            kind = "OpenPGP" if "pgp" in ctype else "S/MIME"
            self.note(f"{name or 'the signature'} was the {kind} signature and is not faxed")
        elif ctype == "application/pgp-encrypted":
            raise MailError(ENCRYPTED_ERROR.format(kind="OpenPGP"))
        elif ctype in _BODY_TYPES and not name and part.get_content_disposition() != "attachment":
            if text:
                body = part_text(part)
                if body.strip():
                    out.texts.append(body)
                    out.plain = out.plain or ctype == "text/plain"
        else:
            self._attachment(part, out, name)

    def _alternative(self, part: Message, out: Collected, depth: int, *, text: bool) -> None:
        results: list[tuple[Message, Collected]] = []
        for child in subparts(part):
            sub = Collected()
            self.walk(child, sub, depth + 1, text=text)
            results.append((child, sub))
        if text:
            with_text = [sub for _, sub in results if sub.texts]
            plain = [sub for sub in with_text if sub.plain]
            chosen = plain[0] if plain else (with_text[-1] if with_text else None)
            if chosen is not None:
                out.texts.extend(chosen.texts)
                out.plain = out.plain or chosen.plain
        # the alternatives' own renderings are not attachments; what a multipart branch
        # carries is (Apple Mail attaches in the HTML branch): the richest branch counts
        branches = [sub for child, sub in results if content_type(child).startswith("multipart/")]
        if branches:
            best = max(reversed(branches), key=lambda sub: len(sub.attachments))
            out.attachments.extend(best.attachments)

    def _signed(self, part: Message, out: Collected, depth: int, *, text: bool) -> None:
        children = subparts(part)
        if not children:
            return
        self.walk(children[0], out, depth + 1, text=text)
        for signature in children[1:]:
            name = part_filename(signature)
            kind = "OpenPGP" if "pgp" in content_type(signature) else "S/MIME"
            default = "signature.asc" if kind == "OpenPGP" else "smime.p7s"
            self.note(f"{name or default} was the {kind} signature and is not faxed")

    def _pkcs7(self, part: Message, out: Collected, depth: int, name: str, *, text: bool) -> None:
        smime_type = param(part, "smime-type").lower()
        if smime_type in ("enveloped-data", "authenveloped-data"):
            raise MailError(ENCRYPTED_ERROR.format(kind="S/MIME"))
        der = payload_bytes(part)
        try:
            kind = cms_content_type(der)
            if kind in (OID_ENVELOPED_DATA, OID_AUTH_ENVELOPED_DATA):
                raise MailError(ENCRYPTED_ERROR.format(kind="S/MIME"))
            if kind == OID_COMPRESSED_DATA or smime_type == "compressed-data":
                raise MailError(
                    "this message is S/MIME compressed, which can't be faxed: send it uncompressed"
                )
            content = cms_signed_content(der)
        except (BerError, IndexError) as exc:
            raise MailError(
                f"{name or 'smime.p7m'} is not a readable S/MIME message; send the documents without S/MIME"
            ) from exc
        if content is None:
            raise MailError(f"{name or 'smime.p7m'} is an S/MIME signature without the signed message")
        inner = self.read(content, depth + 1)
        self.note(f"{name or 'smime.p7m'} was S/MIME signed: its content is faxed, the signature is not")
        self.walk(inner, out, depth + 1, text=text)

    def _forwarded(self, part: Message, out: Collected, depth: int) -> None:
        children = subparts(part)
        inner = children[0] if children else Message()
        if transfer_encoding(part) in ("base64", "quoted-printable"):
            # not allowed for message/rfc822 (RFC 2046 5.2.1), but written: the parser took
            # the encoded text for the message; decode it and read that
            carrier = Message()
            carrier["Content-Transfer-Encoding"] = transfer_encoding(part)
            carrier.set_payload(inner.get_payload() if not inner.is_multipart() else "")
            inner = self.read(payload_bytes(carrier), depth + 1)
        subject = " ".join(header_text(inner.get("subject")).split())
        before = len(out.attachments)
        self.walk(inner, out, depth + 1, text=False)
        what = f'the forwarded message "{subject}"' if subject else "the forwarded message"
        if len(out.attachments) > before:
            self.note(f"{what}: its attachments are faxed, its text is not")
        else:
            self.note(f"{what} is not faxed (only attachments of forwarded messages are)")

    @staticmethod
    def _estimate(part: Message) -> int:
        """The decoded size of a base64 body without decoding it (line ends and spaces
        discounted), so that a huge attachment is refused cheaply; else 0."""
        body = part.get_payload()
        if transfer_encoding(part) != "base64" or not isinstance(body, str):
            return 0
        lines = body.count("\n")
        space = lines * 2 if "\r\n" in body[:4096] else lines
        return (len(body) - space) * 3 // 4

    def _attachment(self, part: Message, out: Collected, name: str) -> None:
        ctype = content_type(part)
        content_id = strip_id(part.get("content-id", "")).lower()
        location = part.get("content-location", "").lower()
        if (content_id and content_id in self.referenced) or (location and location in self.referenced):
            return  # an inline image of the HTML body
        if _is_archive(name, ctype):
            zipped = "zip" in ctype or name.lower().endswith((".zip", ".zipx"))
            kind = "a zip archive, and zip archives are" if zipped else "an archive, and archives are"
            raise MailError(f"{name or 'an attachment'} is {kind} not faxed: attach the documents themselves")
        label = name or f"an attachment of type {ctype}"
        size = self._estimate(part)
        data = b"" if size > self.max_bytes * 1.05 else payload_bytes(part)
        size = len(data) or size
        if size > self.max_bytes:
            raise MailError(
                f"{label} is {_size(size)}, over the limit of {_size(self.max_bytes)} "
                "for a fax attachment: send smaller files or split the document"
            )
        if ctype in _VAGUE_TYPES or ctype == "application/x-pdf":
            ext = "." + name.rpartition(".")[2].lower() if "." in name else ""
            ctype = _TYPES_BY_EXTENSION.get(ext) or next(
                (t for magic, t in _MAGIC if data.startswith(magic)), "application/octet-stream"
            )
        self.counter += 1
        if not name:
            name = f"attachment-{self.counter}{_EXTENSIONS.get(ctype, '.bin')}"
        if not data:
            self.note(f"{name} is empty and is not faxed")
            return
        if ctype.startswith("text/"):
            charset = part.get_content_charset()
            if charset:
                ctype = f"{ctype}; charset={charset}"
        out.attachments.append(Attachment(name, ctype, data))
