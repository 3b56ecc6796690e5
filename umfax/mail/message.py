"""A mail message, as bytes, to what should be faxed: recipients, documents, body text.

Sans-IO: :func:`parse_message` is a pure function of the message's bytes.  The MIME
mechanics are the standard library's :mod:`email` package (``BytesParser``, header
unfolding, multipart splitting, base64/quoted-printable/uuencode, RFC 2231 parameters,
RFC 2047 words via :func:`~umfax.mail.addresses.decode_rfc2047`); what is left here is
deciding what to fax.  A malformed message is read as well as it can be, and what cannot
be faxed raises :class:`~umfax.errors.MailError` whose text is for the sender.  No other
exception escapes :func:`parse_message`.

The parser runs with the ``compat32`` policy, the most tolerant one: header values stay
the text that was sent and are only interpreted when asked for, never raising.  (The
``default`` policy parses structured headers on access, and its header parser has raised
on, or been slow with, malformed mail.)  Two additions of ours: a ``multipart`` whose
boundary is missing or wrong (which the stdlib leaves as one block of text) is split at
the boundary its body actually uses, and base64 with a dangling last character (a
truncated message) is decoded as far as it goes instead of handed back still encoded.

How the MIME tree becomes a fax:

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
  opaque ``smime.p7m`` (CMS SignedData, RFC 5652) is unwrapped and its content read as
  the message.  Signatures are not verified: whether mail is genuine is decided from
  Authentication-Results (see :mod:`umfax.mail.authorize`).  Encrypted mail (S/MIME
  enveloped data, OpenPGP) is refused.
* Refused: TNEF (``winmail.dat``), archives (zip…), attachments over the size limit
  (judged from the encoded size before decoding), too many attachments, absurdly deep or
  large MIME trees.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import InvalidBase64LengthDefect
from email.message import Message
from email.parser import BytesParser
from email.policy import Compat32
from email.utils import collapse_rfc2231_value, parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import unquote

from umfax.errors import MailError
from umfax.mail.addresses import (
    FaxAddress,
    decode_bytes,
    decode_rfc2047,
    dedupe,
    fax_recipients,
    number_from_subject,
    parse_address_list,
    parse_fax_address,
)

__all__ = [
    "ENCRYPTED_ERROR",
    "TNEF_ERROR",
    "Attachment",
    "AuthResult",
    "MailFax",
    "cms_content_type",
    "cms_signed_content",
    "html_to_text",
    "parse_authentication_results",
    "parse_message",
]

MAX_DEPTH = 20  # nesting of multiparts, forwarded messages and S/MIME wrappers
MAX_PARTS = 2000


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # "type/subtype", lowercase; text types carry "; charset=…"
    data: bytes


@dataclass(frozen=True, slots=True)
class AuthResult:
    """One method's result from an Authentication-Results header (RFC 8601)."""

    authserv_id: str
    method: str  # spf, dkim, dmarc… (lowercase)
    result: str  # pass, fail, none… (lowercase)
    properties: dict[str, str]  # e.g. {"header.from": "example.com", "smtp.mailfrom": "…"}


@dataclass(frozen=True, slots=True)
class MailFax:
    message_id: str  # without <>; "" when absent
    sender: str  # From addr-spec, lowercased
    sender_name: str
    reply_to: str  # Reply-To addr-spec (lowercased) or ""
    return_path: str | None  # Return-Path addr-spec; "" for <> (a bounce); None when absent
    subject: str  # RFC 2047 decoded
    date: datetime | None
    recipients: list[FaxAddress]  # de-duplicated by number, order kept
    other_recipients: list[str]  # non-fax addresses (for information)
    body_text: str  # the message's own text
    attachments: list[Attachment]  # in the order the sender attached them
    authentication_results: list[AuthResult]
    automatic: bool  # auto-generated: never reply to it
    notes: list[str]  # things the sender should know


# -- reading MIME with the standard library ---------------------------------------------------

_FOLD = re.compile(r"[ \t]*(?:\r\n|\r|\n)[ \t]*")


class _Policy(Compat32):
    """``compat32``, with header values read back unfolded and as plain ``str``: their
    8-bit bytes (raw UTF-8 or Latin-1, which the parser carries as surrogate escapes and
    ``compat32`` would wrap in ``Header`` objects) become Latin-1 characters, one per
    byte.  Lossless, so RFC 2231 values in any charset decode right; :func:`_text`
    turns such a value into text."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        value = str(value).encode("utf-8", "surrogateescape").decode("latin-1")
        return _FOLD.sub(" ", value).strip()


_POLICY = _Policy()


def _parse_bytes(data: bytes) -> Message:
    return BytesParser(policy=_POLICY).parsebytes(data)


def _unencoded(value: str | None) -> str:
    """A header value's bytes as text: UTF-8, else Windows-1252 (what unlabelled 8-bit
    headers are)."""
    return decode_bytes((value or "").encode("latin-1", "replace"))


def _text(value: str | None) -> str:
    """A header value as text, RFC 2047 encoded words decoded."""
    return decode_rfc2047(_unencoded(value))


def _param(part: Message, name: str, header: str = "content-type") -> str:
    """A parameter's text: RFC 2231 continuations and charsets by the stdlib; RFC 2047
    words in plain values decoded too (mail clients write them)."""
    try:
        value = part.get_param(name, header=header)
    except (TypeError, ValueError):  # e.g. both ``name*`` and ``name*0``: the stdlib gives up
        return ""
    if isinstance(value, tuple):
        return collapse_rfc2231_value(value, fallback_charset="utf-8")
    return _text(value)


def _filename(part: Message) -> str:
    return _safe_filename(_param(part, "filename", "content-disposition") or _param(part, "name"))


_TYPE = re.compile(r"[a-z0-9!#$&^_.+\-]+/[a-z0-9!#$&^_.+\-]+")


def _ctype(part: Message) -> str:
    """The part's type: as the parser split it; a multipart that could not be split is
    text (RFC 2046 5.1.7), a malformed type the default (RFC 2045 5.2)."""
    ctype = part.get_content_type()
    if part.is_multipart():
        return ctype
    if ctype.startswith("multipart/"):
        return "text/plain"
    return ctype if _TYPE.fullmatch(ctype) else part.get_default_type()


def _subparts(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _cte(part: Message) -> str:
    return part.get("content-transfer-encoding", "").lower()


def _payload(part: Message) -> bytes:
    """The part's body with its Content-Transfer-Encoding undone (by the stdlib)."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return b""
    if any(isinstance(d, InvalidBase64LengthDefect) for d in part.defects):
        # a character too many for base64 (a truncated message): the stdlib returns the
        # encoded text; decode the complete groups instead, as it does otherwise
        alphabet = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
        data = base64.b64decode(alphabet[: len(alphabet) // 4 * 4])
    return data


_BOUNDARY_LINE = re.compile(rb'(?m)^--([!#-\[\]-~]{1,70}?)(--)?[ \t\r]*$')


def _recover_boundary(part: Message) -> int:
    """A multipart whose boundary parameter is missing or wrong, left by the parser as
    text: split it at the first ``--x`` line seen twice (or closed) in its first megabyte.
    Returns how many bytes were parsed again."""
    body = _payload(part)
    seen: dict[bytes, int] = {}
    for match in _BOUNDARY_LINE.finditer(body[: 1 << 20]):
        boundary = match.group(1)
        seen[boundary] = seen.get(boundary, 0) + 1
        if seen[boundary] >= 2 or match.group(2):
            head = f'Content-Type: {part.get_content_type()}; boundary="{boundary.decode()}"\r\n\r\n'
            split = _parse_bytes(head.encode() + body)
            if split.is_multipart():
                part.set_payload(split.get_payload())
            return len(body)
    return 0


# -- text ---------------------------------------------------------------------------------

_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
}
_SKIP_TAGS = {"head", "script", "style", "title", "template", "noscript", "xml"}
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _HtmlText(HTMLParser):
    """HTML made readable: block elements on their own lines, list items bulleted, table
    cells separated, scripts and styles dropped, whitespace collapsed outside <pre>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0
        self.line: list[str] = []

    def _newline(self, blank: bool = False, force: bool = False) -> None:
        """End the current line; ``force`` keeps it even when empty (``<br><br>``),
        ``blank`` adds a blank line after it (paragraphs)."""
        text = "".join(self.line)
        self.line = []
        if not self.pre:
            text = " ".join(text.split())
        if text or force:
            self.out.append(text)
        if blank and self.out and self.out[-1] != "":
            self.out.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            if tag not in _VOID_TAGS:
                self.skip += 1
            return
        if tag == "br":
            self._newline(force=True)
        elif tag in ("td", "th"):
            self.line.append("  ")
        elif tag in _BLOCK_TAGS:
            self._newline(blank=tag in ("p", "table", "blockquote", "h1", "h2", "h3", "hr"))
            if tag == "pre":
                self.pre += 1
            elif tag == "li":
                self.line.append("- ")
            elif tag == "hr":
                self.out.append("-" * 20)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._newline(force=True)
        elif tag == "hr":
            self._newline(blank=True)
            self.out.append("-" * 20)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
            return
        if tag in _BLOCK_TAGS:
            self._newline(blank=tag in ("p", "table", "blockquote", "h1", "h2", "h3"))
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            lines = data.split("\n")
            for k, piece in enumerate(lines):
                if k:
                    self._newline(force=True)
                self.line.append(piece)
        else:
            self.line.append(data.replace("\u00a0", " ").replace("\n", " ").replace("\r", " "))

    def text(self) -> str:
        self._newline()
        return "\n".join(self.out).strip("\n")


def html_to_text(html: str) -> str:
    """Readable text of an HTML body."""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
        return parser.text()
    except Exception:  # HTMLParser is tolerant; this is a last resort
        return " ".join(re.sub(r"<[^>]*>", " ", html).split())


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: join soft-broken lines (a line ending in a space), undo
    space-stuffing; the signature delimiter "-- " is never a soft break."""
    out: list[str] = []
    current: str | None = None
    current_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        quote = ">" * depth + (" " if depth else "")
        flowed = content.endswith(" ") and content != "-- "
        if current is not None and depth == current_depth:
            current += content[:-1] if (flowed and delsp) else content
        else:
            if current is not None:
                out.append(">" * current_depth + (" " if current_depth else "") + current)
            current = content[:-1] if (flowed and delsp) else content
            current_depth = depth
        if not flowed:
            out.append(quote + current)
            current = None
    if current is not None:
        out.append(">" * current_depth + (" " if current_depth else "") + current)
    return "\n".join(out)


def _decoded(part: Message) -> str:
    text = decode_bytes(_payload(part), part.get_content_charset() or "")
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _text_of(part: Message) -> str:
    text = _decoded(part)
    if _ctype(part) == "text/html":
        return html_to_text(text)
    if _param(part, "format").lower() == "flowed":
        text = _unflow(text, _param(part, "delsp").lower() == "yes")
    return text


# -- CMS (RFC 5652), just enough to unwrap SignedData -------------------------------------

OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
OID_AUTH_ENVELOPED_DATA = "1.2.840.113549.1.9.16.1.23"
OID_COMPRESSED_DATA = "1.2.840.113549.1.9.16.1.9"


class _BerError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class _Tlv:
    tag_class: int  # 0 universal, 2 context-specific…
    constructed: bool
    number: int
    content: bytes  # for constructed indefinite-length values: the children's encoding
    end: int  # offset after the value in the buffer it was read from


def _read_tlv(data: bytes, pos: int, depth: int = 0) -> _Tlv:
    """One BER TLV at ``pos`` (DER is BER; Outlook writes indefinite lengths)."""
    if depth > 50:
        raise _BerError("nested too deeply")
    if pos + 2 > len(data):
        raise _BerError("truncated")
    first = data[pos]
    tag_class, constructed, number = first >> 6, bool(first & 0x20), first & 0x1F
    pos += 1
    if number == 0x1F:
        number = 0
        while True:
            if pos >= len(data) or number > 1 << 28:
                raise _BerError("bad tag")
            byte = data[pos]
            pos += 1
            number = (number << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
    if pos >= len(data):
        raise _BerError("truncated")
    length_byte = data[pos]
    pos += 1
    if length_byte == 0x80:  # indefinite: children up to the end-of-contents octets
        if not constructed:
            raise _BerError("indefinite primitive")
        start = pos
        while True:
            if data[pos : pos + 2] == b"\x00\x00":
                return _Tlv(tag_class, constructed, number, data[start:pos], pos + 2)
            pos = _read_tlv(data, pos, depth + 1).end
    if length_byte & 0x80:
        count = length_byte & 0x7F
        if count > 4 or pos + count > len(data):
            raise _BerError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = length_byte
    if pos + length > len(data):
        raise _BerError("truncated")
    return _Tlv(tag_class, constructed, number, data[pos : pos + length], pos + length)


def _children(tlv: _Tlv, depth: int = 0) -> list[_Tlv]:
    out = []
    pos = 0
    while pos < len(tlv.content):
        child = _read_tlv(tlv.content, pos, depth + 1)
        out.append(child)
        pos = child.end
    return out


def _oid(tlv: _Tlv) -> str:
    if tlv.tag_class != 0 or tlv.number != 6 or not tlv.content:
        raise _BerError("not an OID")
    values: list[int] = []
    value = 0
    for byte in tlv.content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            values.append(value)
            value = 0
    first = values[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(v) for v in head + values[1:])


def _octets(tlv: _Tlv, depth: int = 0) -> bytes:
    """An OCTET STRING's value, primitive or constructed (BER chunks)."""
    if tlv.tag_class != 0 or tlv.number != 4:
        raise _BerError("not an OCTET STRING")
    if not tlv.constructed:
        return tlv.content
    if depth > 50:
        raise _BerError("nested too deeply")
    return b"".join(_octets(c, depth + 1) for c in _children(tlv))


def cms_content_type(der: bytes) -> str:
    """The OID of a CMS ContentInfo's content type (RFC 5652 3)."""
    info = _read_tlv(der, 0)
    fields = _children(info)
    return _oid(fields[0])


def cms_signed_content(der: bytes) -> bytes | None:
    """The encapsulated content of a CMS SignedData (RFC 5652 5.1, 5.2), or None for a
    detached signature.  Raises ValueError when ``der`` is not SignedData."""
    info = _read_tlv(der, 0)
    fields = _children(info)
    if len(fields) < 2 or _oid(fields[0]) != OID_SIGNED_DATA:
        raise _BerError("not SignedData")
    explicit = fields[1]  # content [0] EXPLICIT
    signed = _children(explicit)[0]
    parts = _children(signed)  # version, digestAlgorithms, encapContentInfo, …
    if len(parts) < 3:
        raise _BerError("short SignedData")
    encap = _children(parts[2])
    if len(encap) < 2:
        return None
    wrapped = _children(encap[1])  # eContent [0] EXPLICIT OCTET STRING
    if not wrapped:
        return None
    return _octets(wrapped[0])


# -- Authentication-Results (RFC 8601) ----------------------------------------------------

def _split_top_level(value: str, sep: str) -> list[str]:
    """``value`` split at ``sep`` outside quoted strings; comments removed."""
    out: list[str] = []
    cur: list[str] = []
    i = 0
    depth = 0
    quoted = False
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and (quoted or depth):
            if not depth:
                cur.append(value[i : i + 2])
            i += 2
            continue
        if quoted:
            cur.append(c)
            if c == '"':
                quoted = False
        elif depth:
            depth += c == "("
            depth -= c == ")"
        elif c == '"':
            quoted = True
            cur.append(c)
        elif c == "(":
            depth = 1
        elif c == sep:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        # only \" and \\ are taken as escapes: clients write Windows paths unescaped
        return re.sub(r'\\(["\\])', r"\1", value[1:-1])
    return value.strip('"')


def parse_authentication_results(value: str) -> list[AuthResult]:
    """The method results of one Authentication-Results header value.  Tolerant:
    comments, quoted values, a version after the authserv-id, ``none``, spaces around
    ``=``; what cannot be read is skipped."""
    statements = _split_top_level(" ".join(value.split()), ";")
    head = statements[0].split()
    if not head:
        return []
    authserv_id = head[0]
    out: list[AuthResult] = []
    for statement in statements[1:]:
        statement = re.sub(r"\s*=\s*", "=", statement.strip())
        tokens = _split_top_level(statement, " ")
        tokens = [t for t in tokens if t]
        if not tokens or "=" not in tokens[0]:
            continue
        method, _, result = tokens[0].partition("=")
        method = method.split("/", 1)[0].strip().lower()
        result = _unquote(result).lower()
        if not method or not result:
            continue
        properties: dict[str, str] = {}
        for token in tokens[1:]:
            key, eq, prop = token.partition("=")
            if eq and key:
                properties.setdefault(key.lower(), _unquote(prop))
        out.append(AuthResult(authserv_id, method, result, properties))
    return out


# -- from the MIME tree to a fax ------------------------------------------------------------

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
          (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"), (b"GIF8", "image/gif"))
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


def _safe_filename(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip(' ."')
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else name[:200]
    return name


def _is_archive(name: str, ctype: str) -> bool:
    return ctype in _ZIP_TYPES or name.lower().endswith(_ARCHIVE_EXTENSIONS)


@dataclass(slots=True)
class _Out:
    texts: list[str] = field(default_factory=list)
    plain: bool = False  # some of the text came from text/plain
    attachments: list[Attachment] = field(default_factory=list)


_CID_REF = re.compile(r"""(?i)cid:([^"'\s)>]+)""")
_SRC_REF = re.compile(r"""(?i)(?:src|background|href)\s*=\s*["']?([^"'\s>]+)""")


class _Walker:
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
        message = _parse_bytes(data)
        self.reparse_budget += len(data)
        self._check(message, depth)
        for part in message.walk():
            if _ctype(part) == "text/html":
                html = _decoded(part)
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
            self.reparse_budget -= _recover_boundary(part)
        for child in _subparts(part):
            self._check(child, depth + 1)

    def walk(self, part: Message, out: _Out, depth: int, *, text: bool = True) -> None:
        ctype = _ctype(part)
        name = _filename(part)
        if ctype == "multipart/alternative":
            self._alternative(part, out, depth, text=text)
        elif ctype == "multipart/signed":
            self._signed(part, out, depth, text=text)
        elif ctype == "multipart/encrypted":
            raise MailError(ENCRYPTED_ERROR.format(kind="OpenPGP"))
        elif ctype.startswith("multipart/"):
            for child in _subparts(part):
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
                body = _text_of(part)
                if body.strip():
                    out.texts.append(body)
                    out.plain = out.plain or ctype == "text/plain"
        else:
            self._attachment(part, out, name)

    def _alternative(self, part: Message, out: _Out, depth: int, *, text: bool) -> None:
        results: list[tuple[Message, _Out]] = []
        for child in _subparts(part):
            sub = _Out()
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
        branches = [sub for child, sub in results if _ctype(child).startswith("multipart/")]
        if branches:
            best = max(reversed(branches), key=lambda sub: len(sub.attachments))
            out.attachments.extend(best.attachments)

    def _signed(self, part: Message, out: _Out, depth: int, *, text: bool) -> None:
        children = _subparts(part)
        if not children:
            return
        self.walk(children[0], out, depth + 1, text=text)
        for signature in children[1:]:
            name = _filename(signature)
            kind = "OpenPGP" if "pgp" in _ctype(signature) else "S/MIME"
            default = "signature.asc" if kind == "OpenPGP" else "smime.p7s"
            self.note(f"{name or default} was the {kind} signature and is not faxed")

    def _pkcs7(self, part: Message, out: _Out, depth: int, name: str, *, text: bool) -> None:
        smime_type = _param(part, "smime-type").lower()
        if smime_type in ("enveloped-data", "authenveloped-data"):
            raise MailError(ENCRYPTED_ERROR.format(kind="S/MIME"))
        der = _payload(part)
        try:
            kind = cms_content_type(der)
            if kind in (OID_ENVELOPED_DATA, OID_AUTH_ENVELOPED_DATA):
                raise MailError(ENCRYPTED_ERROR.format(kind="S/MIME"))
            if kind == OID_COMPRESSED_DATA or smime_type == "compressed-data":
                raise MailError(
                    "this message is S/MIME compressed, which can't be faxed: send it uncompressed"
                )
            content = cms_signed_content(der)
        except (_BerError, IndexError) as exc:
            raise MailError(
                f"{name or 'smime.p7m'} is not a readable S/MIME message; send the documents without S/MIME"
            ) from exc
        if content is None:
            raise MailError(f"{name or 'smime.p7m'} is an S/MIME signature without the signed message")
        inner = self.read(content, depth + 1)
        self.note(f"{name or 'smime.p7m'} was S/MIME signed: its content is faxed, the signature is not")
        self.walk(inner, out, depth + 1, text=text)

    def _forwarded(self, part: Message, out: _Out, depth: int) -> None:
        children = _subparts(part)
        inner = children[0] if children else Message()
        if _cte(part) in ("base64", "quoted-printable"):
            # not allowed for message/rfc822 (RFC 2046 5.2.1), but written: the parser took
            # the encoded text for the message; decode it and read that
            carrier = Message()
            carrier["Content-Transfer-Encoding"] = _cte(part)
            carrier.set_payload(inner.get_payload() if not inner.is_multipart() else "")
            inner = self.read(_payload(carrier), depth + 1)
        subject = " ".join(_text(inner.get("subject")).split())
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
        if _cte(part) != "base64" or not isinstance(body, str):
            return 0
        lines = body.count("\n")
        space = lines * 2 if "\r\n" in body[:4096] else lines
        return (len(body) - space) * 3 // 4

    def _attachment(self, part: Message, out: _Out, name: str) -> None:
        ctype = _ctype(part)
        content_id = _strip_id(part.get("content-id", "")).lower()
        location = part.get("content-location", "").lower()
        if (content_id and content_id in self.referenced) or (location and location in self.referenced):
            return  # an inline image of the HTML body
        if _is_archive(name, ctype):
            zipped = "zip" in ctype or name.lower().endswith((".zip", ".zipx"))
            kind = "a zip archive, and zip archives are" if zipped else "an archive, and archives are"
            raise MailError(f"{name or 'an attachment'} is {kind} not faxed: attach the documents themselves")
        label = name or f"an attachment of type {ctype}"
        size = self._estimate(part)
        data = b"" if size > self.max_bytes * 1.05 else _payload(part)
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


# -- the message's headers --------------------------------------------------------------------

def _strip_id(value: str) -> str:
    value = value.strip()
    match = re.search(r"<([^<>]*)>", value)
    if match:
        return match.group(1).strip()
    return value.split()[0] if value.split() else ""


def _first_address(value: str | None) -> tuple[str, str]:
    boxes = parse_address_list(_unencoded(value))
    if not boxes:
        return "", ""
    return boxes[0].address.lower(), boxes[0].name


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        date = parsedate_to_datetime(value)
    except Exception:  # a date that is not one
        return None
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return date


def _automatic(top: Message, sender: str, return_path: str | None) -> bool:
    auto = top.get("auto-submitted", "").split(";", 1)[0].strip().lower()
    if auto and auto != "no":
        return True
    if top.get("precedence", "").lower() in ("bulk", "junk", "list"):
        return True
    if any(name in top for name in ("list-id", "x-autoreply", "x-autorespond")):
        return True
    if return_path == "":
        return True
    suppress = {t.strip().lower() for t in top.get("x-auto-response-suppress", "").split(",")}
    if "all" in suppress:
        return True
    local = sender.rpartition("@")[0] if "@" in sender else sender
    if local in ("mailer-daemon", "postmaster"):
        return True
    return _ctype(top) == "multipart/report"


def parse_message(
    raw: bytes,
    *,
    fax_domains: Sequence[str] = (),
    envelope_recipients: Sequence[str] | None = None,
    max_attachment_bytes: int = 25 * 1024 * 1024,
    max_attachments: int = 50,
) -> MailFax:
    """What ``raw`` (an RFC 5322 message) asks to fax.

    Recipients come from ``envelope_recipients`` (SMTP RCPT TO, where Bcc is visible)
    when given and not empty, else from To/Cc/Bcc; display names from To/Cc lend the
    envelope's fax recipients their names.  When no address is a fax address, a number
    in the subject is the recipient.  No recipient and nothing to fax are not errors here.

    Raises :class:`MailError` (its text is for the sender) for what cannot be faxed;
    never anything else.
    """
    try:
        return _parse(raw, fax_domains, envelope_recipients, max_attachment_bytes, max_attachments)
    except MailError:
        raise
    except RecursionError as exc:
        raise MailError(
            "the message is nested too deeply to read; send the documents as plain attachments"
        ) from exc
    except Exception as exc:  # a bug, or input we failed to foresee: tell the sender plainly
        raise MailError(
            f"the message could not be read ({type(exc).__name__}); send it again as a plain message "
            "with the documents attached"
        ) from exc


def _parse(
    raw: bytes,
    fax_domains: Sequence[str],
    envelope_recipients: Sequence[str] | None,
    max_attachment_bytes: int,
    max_attachments: int,
) -> MailFax:
    walker = _Walker(max_attachment_bytes)
    top = walker.read(raw, 0)

    sender, sender_name = _first_address(top.get("from"))
    reply_to = _first_address(top.get("reply-to"))[0]
    return_path: str | None = None
    if "return-path" in top:
        value = top.get("return-path", "")
        return_path = "" if value.replace(" ", "") in ("<>", "") else _first_address(value)[0]
    subject = " ".join(_text(top.get("subject")).split())
    message_id = _strip_id(_text(top.get("message-id")))[:998]

    headers = [_unencoded(v) for name in ("to", "cc", "bcc") for v in top.get_all(name, [])]
    if envelope_recipients:
        names: dict[str, str] = {}
        for value in headers:
            for box in parse_address_list(value):
                if box.name:
                    names.setdefault(box.address.lower(), box.name)
        faxes: list[FaxAddress] = []
        others: list[str] = []
        for address in envelope_recipients:
            bare = address.strip().strip("<>").strip()
            fax = parse_fax_address(bare, names.get(bare.lower(), ""), fax_domains=fax_domains)
            if fax is not None:
                faxes.append(fax)
            elif bare and bare.lower() not in others:
                others.append(bare.lower())
        recipients = dedupe(faxes)
    else:
        recipients, others = fax_recipients(headers, fax_domains=fax_domains)
    if not recipients:
        number = number_from_subject(subject)
        if number is not None:
            recipients = [FaxAddress(number, "", number, "subject")]

    results = [
        r for value in top.get_all("authentication-results", []) for r in parse_authentication_results(value)
    ]

    out = _Out()
    walker.walk(top, out, 0)
    if len(out.attachments) > max_attachments:
        raise MailError(
            f"the message has {len(out.attachments)} attachments, and at most {max_attachments} "
            "can be faxed from one message: send them in several messages"
        )
    body = "\n\n".join(t.strip("\n") for t in out.texts)
    body = "\n".join(line.rstrip() if line != "-- " else line for line in body.split("\n")).strip()

    return MailFax(
        message_id=message_id,
        sender=sender,
        sender_name=sender_name,
        reply_to=reply_to,
        return_path=return_path,
        subject=subject,
        date=_date(top.get("date", "")),
        recipients=recipients,
        other_recipients=others,
        body_text=body,
        attachments=out.attachments,
        authentication_results=results,
        automatic=_automatic(top, sender, return_path),
        notes=walker.notes,
    )
