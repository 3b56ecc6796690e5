"""A mail message, as bytes, to what should be faxed: recipients, documents, body text.

Sans-IO: :func:`parse_message` is a pure function of the message's bytes.  The MIME
reader is our own and tolerant (RFC 5322 headers, RFC 2045-2049 MIME, RFC 2047 encoded
words, RFC 2231 parameters): a malformed message is read as well as it can be, and what
cannot be faxed raises :class:`~umfax.errors.MailError` whose text is for the sender.
No other exception escapes :func:`parse_message`.

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
* Refused: TNEF (``winmail.dat``), archives (zip…), attachments over the size limit, too
  many attachments, absurdly deep or large MIME trees.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import unquote, unquote_to_bytes

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
MAX_HEADER_LINES = 5000


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


# -- the MIME reader ---------------------------------------------------------------------------

_HEADER_NAME = re.compile(rb"^[!-9;-~]+[ \t]*:")


@dataclass(slots=True)
class _Entity:
    headers: list[tuple[str, str]]  # (lowercase name, unfolded value)
    body: bytes  # as transferred (encoded), line ends as they came (CRLF or LF)
    ctype: str = "text/plain"
    params: dict[str, str] = field(default_factory=dict)
    children: list[_Entity] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.headers)

    @property
    def disposition(self) -> tuple[str, dict[str, str]]:
        return _parse_parameters(self.get("content-disposition"))

    @property
    def content_id(self) -> str:
        return _strip_id(self.get("content-id")).lower()


def _header_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _split_headers(data: bytes, *, top: bool = False) -> tuple[list[tuple[str, str]], bytes]:
    """The header fields of an entity and its body.  A line that is neither a field nor a
    continuation ends the headers (it is the body's first line)."""
    headers: list[tuple[bytes, bytearray]] = []
    pos = 0
    n = len(data)
    if top and data.startswith(b"From "):  # an mbox separator line
        nl = data.find(b"\n")
        pos = n if nl < 0 else nl + 1
    while pos < n:
        nl = data.find(b"\n", pos)
        end = n if nl < 0 else nl
        line = data[pos:end].rstrip(b"\r")
        if not line.strip(b" \t"):
            pos = end + 1
            break
        if line[:1] in (b" ", b"\t"):
            if headers:
                headers[-1][1].extend(b" " + line.strip(b" \t"))
            pos = end + 1
            continue
        match = _HEADER_NAME.match(line)
        if match is None or len(headers) >= MAX_HEADER_LINES:
            break  # the body starts here
        name = line[: match.end() - 1].strip(b" \t")
        headers.append((name, bytearray(line[match.end() :].strip(b" \t"))))
        pos = end + 1
    body = data[pos:] if pos < n else b""
    return [(_header_text(k).lower(), _header_text(bytes(v)).strip()) for k, v in headers], body


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


def _parse_parameters(value: str) -> tuple[str, dict[str, str]]:
    """``type/subtype; a=b; c*=utf-8''%C3%A9`` -> ("type/subtype", {"a": "b", "c": "é"}).

    RFC 2045 parameters with RFC 2231 extensions (charset, continuations); RFC 2047
    encoded words in values are decoded too (mail clients write them)."""
    pieces = _split_top_level(value, ";")
    main = pieces[0].strip().lower()
    plain: dict[str, str] = {}
    extended: dict[str, dict[int, tuple[bool, str]]] = {}
    for piece in pieces[1:]:
        name, eq, raw = piece.partition("=")
        name = name.strip().lower()
        if not eq or not name:
            continue
        raw = raw.strip()
        if "*" in name:
            base, _, rest = name.partition("*")
            star = rest.endswith("*") or rest == ""
            section_text = rest.rstrip("*")
            if section_text and not section_text.isdigit():
                continue
            section = int(section_text) if section_text else 0
            if section > 1000:
                continue
            extended.setdefault(base, {})[section] = (star, _unquote(raw))
        else:
            plain.setdefault(name, _unquote(raw))
    params = {k: v if k == "boundary" else decode_rfc2047(v) for k, v in plain.items()}
    for base, sections in extended.items():
        charset = ""
        data = bytearray()
        for k, index in enumerate(sorted(sections)):
            is_encoded, text = sections[index]
            if is_encoded and k == 0 and text.count("'") >= 2:
                charset, _language, text = text.split("'", 2)  # charset'language'value
            data.extend(unquote_to_bytes(text) if is_encoded else text.encode("utf-8"))
        params[base] = decode_bytes(bytes(data), charset)
    return main, params


def _strip_id(value: str) -> str:
    value = value.strip()
    match = re.search(r"<([^<>]*)>", value)
    if match:
        return match.group(1).strip()
    return value.split()[0] if value.split() else ""


class _Reader:
    """Splits a message into entities, counting them."""

    def __init__(self) -> None:
        self.parts = 0

    def entity(
        self, data: bytes, depth: int, *, default_type: str = "text/plain", top: bool = False
    ) -> _Entity:
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
        headers, body = _split_headers(data, top=top)
        entity = _Entity(headers, body)
        ctype, params = _parse_parameters(entity.get("content-type"))
        if not re.fullmatch(r"[a-z0-9!#$&^_.+\-]+/[a-z0-9!#$&^_.+\-]+", ctype):
            ctype = default_type  # missing or malformed: the default (RFC 2045 5.2)
            params = {k: v for k, v in params.items() if k == "charset"}
        entity.ctype, entity.params = ctype, params
        if ctype.startswith("multipart/"):
            child_type = "message/rfc822" if ctype == "multipart/digest" else "text/plain"
            pieces = self._split(body, params.get("boundary", ""))
            if pieces is None:
                entity.ctype = "text/plain"  # no boundary anywhere: read it as text
            else:
                entity.children = [self.entity(p, depth + 1, default_type=child_type) for p in pieces]
        return entity

    def _split(self, body: bytes, boundary: str) -> list[bytes] | None:
        if boundary:
            pieces = _split_multipart(body, boundary.encode("utf-8", "replace"))
            if pieces is not None:
                return pieces
        guessed = _guess_boundary(body)
        if guessed and guessed != boundary.encode("utf-8", "replace"):
            return _split_multipart(body, guessed)
        return None


def _split_multipart(body: bytes, boundary: bytes) -> list[bytes] | None:
    """The parts between ``--boundary`` lines (RFC 2046 5.1.1); None when there is no
    delimiter.  An unterminated last part runs to the end.  Line ends may be CRLF or LF;
    the line end before a delimiter belongs to the delimiter."""
    dashes = b"--" + boundary
    delimiters: list[tuple[int, int]] = []  # (where the part before ends, end of the line)
    closed = False
    pos = 0
    while True:
        if pos == 0 and body.startswith(dashes):
            i = 0
        else:
            found = body.find(b"\n" + dashes, pos)
            if found < 0:
                break
            i = found + 1
        j = i + len(dashes)
        end = body.find(b"\n", j)
        if end < 0:
            end = len(body)
        rest = body[j:end]
        before = i - 1 if i else 0
        if before and body[before - 1 : before] == b"\r":
            before -= 1
        if rest.startswith(b"--"):
            delimiters.append((before, end))
            closed = True
            break
        if not rest.strip():
            delimiters.append((before, end))
        pos = j
    if not delimiters:
        return None
    pieces = []
    for k in range(len(delimiters) - (1 if closed else 0)):
        start = delimiters[k][1] + 1
        stop = delimiters[k + 1][0] if k + 1 < len(delimiters) else len(body)
        pieces.append(body[start:stop] if start <= stop else b"")
    return pieces


_BOUNDARY_LINE = re.compile(rb"(?m)^--([\x21-\x7e]{1,70}?)(--)?[ \t\r]*$")


def _guess_boundary(body: bytes) -> bytes | None:
    """A boundary for a multipart without (or with a wrong) one: the first ``--x`` line
    seen at least twice in the first megabyte."""
    head = body[: 1 << 20]
    seen: dict[bytes, int] = {}
    for match in _BOUNDARY_LINE.finditer(head):
        candidate = match.group(1)
        seen[candidate] = seen.get(candidate, 0) + 1
        if seen[candidate] >= 2 or match.group(2):
            return candidate
    return None


_B64_DELETE = bytes(c for c in range(256) if not (chr(c).isascii() and (chr(c).isalnum() or chr(c) in "+/")))


def _decode_base64(data: bytes) -> bytes:
    try:
        return binascii.a2b_base64(data)  # ignores line ends and stray characters
    except binascii.Error:
        pass  # bad padding: clean up and pad
    cleaned = data.translate(None, _B64_DELETE)
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]
    cleaned += b"=" * (-len(cleaned) % 4)
    try:
        return binascii.a2b_base64(cleaned)
    except binascii.Error:  # cannot happen after cleaning, but never fail here
        return b""


def _payload(entity: _Entity) -> bytes:
    """The entity's body with its Content-Transfer-Encoding undone (tolerantly)."""
    cte = entity.get("content-transfer-encoding").strip().lower()
    if cte == "base64":
        return _decode_base64(entity.body)
    if cte == "quoted-printable":
        return binascii.a2b_qp(entity.body)
    if cte in ("x-uuencode", "uuencode", "x-uue"):
        return _decode_uu(entity.body)
    return entity.body


def _decode_uu(data: bytes) -> bytes:
    out = bytearray()
    inside = False
    for line in data.replace(b"\r", b"").split(b"\n"):
        if not inside:
            inside = line.startswith(b"begin ")
            continue
        if line.strip() in (b"end", b"`"):
            if line.strip() == b"end":
                break
            continue
        try:
            out.extend(binascii.a2b_uu(line))
        except binascii.Error:
            continue
    return bytes(out)


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


def _text_of(entity: _Entity) -> str:
    data = _payload(entity)
    text = decode_bytes(data, entity.params.get("charset", ""))
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if entity.ctype == "text/html":
        return html_to_text(text)
    if entity.params.get("format", "").lower() == "flowed":
        text = _unflow(text, entity.params.get("delsp", "").lower() == "yes")
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
    name = "".join(c for c in name if c.isprintable()).strip(" .")
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
    def __init__(self, reader: _Reader, max_attachment_bytes: int) -> None:
        self.reader = reader
        self.max_bytes = max_attachment_bytes
        self.notes: list[str] = []
        self.referenced: set[str] = set()  # cid: and src= references of the HTML
        self.counter = 0

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def scan_references(self, entity: _Entity) -> None:
        """What the HTML of ``entity`` refers to: inline images are part of the body."""
        stack = [entity]
        while stack:
            part = stack.pop()
            stack.extend(part.children)
            if part.ctype == "text/html":
                html = decode_bytes(_payload(part), part.params.get("charset", ""))
                self.referenced.update(unquote(m).lower() for m in _CID_REF.findall(html))
                self.referenced.update(unquote(m).lower() for m in _SRC_REF.findall(html))

    def _filename(self, entity: _Entity) -> str:
        _, disp_params = entity.disposition
        name = disp_params.get("filename") or entity.params.get("name") or ""
        return _safe_filename(name)

    def walk(self, entity: _Entity, out: _Out, depth: int, *, text: bool = True) -> None:
        ctype = entity.ctype
        name = self._filename(entity)
        if ctype == "multipart/alternative":
            self._alternative(entity, out, depth, text=text)
        elif ctype == "multipart/signed":
            self._signed(entity, out, depth, text=text)
        elif ctype == "multipart/encrypted":
            raise MailError(ENCRYPTED_ERROR.format(kind="OpenPGP"))
        elif ctype.startswith("multipart/"):
            for child in entity.children:
                self.walk(child, out, depth + 1, text=text)
        elif ctype in ("message/rfc822", "message/global"):
            self._forwarded(entity, out, depth)
        elif ctype == "message/partial":
            raise MailError("the message arrived split in parts (message/partial); send it as one message")
        elif ctype.startswith("message/") or ctype == "text/rfc822-headers":
            return  # a report's machinery: delivery-status, disposition-notification, headers…
        elif ctype in _PKCS7_MIME or name.lower().endswith(".p7m"):
            self._pkcs7(entity, out, depth, name, text=text)
        elif ctype in _TNEF_TYPES or name.lower() == "winmail.dat":
            raise MailError(TNEF_ERROR)
        elif ctype in _SIGNATURE_TYPES or name.lower().endswith((".p7s", ".sig.asc")):
            kind = "OpenPGP" if "pgp" in ctype else "S/MIME"
            self.note(f"{name or 'the signature'} was the {kind} signature and is not faxed")
        elif ctype == "application/pgp-encrypted":
            raise MailError(ENCRYPTED_ERROR.format(kind="OpenPGP"))
        elif ctype in _BODY_TYPES and not name and entity.disposition[0] != "attachment":
            if text:
                body = _text_of(entity)
                if body.strip():
                    out.texts.append(body)
                    out.plain = out.plain or ctype == "text/plain"
        else:
            self._attachment(entity, out, name)

    def _alternative(self, entity: _Entity, out: _Out, depth: int, *, text: bool) -> None:
        results: list[tuple[_Entity, _Out]] = []
        for child in entity.children:
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
        branches = [sub for child, sub in results if child.ctype.startswith("multipart/")]
        if branches:
            best = max(reversed(branches), key=lambda sub: len(sub.attachments))
            out.attachments.extend(best.attachments)

    def _signed(self, entity: _Entity, out: _Out, depth: int, *, text: bool) -> None:
        if not entity.children:
            return
        self.walk(entity.children[0], out, depth + 1, text=text)
        for signature in entity.children[1:]:
            name = self._filename(signature)
            kind = "OpenPGP" if "pgp" in signature.ctype else "S/MIME"
            default = "signature.asc" if kind == "OpenPGP" else "smime.p7s"
            self.note(f"{name or default} was the {kind} signature and is not faxed")

    def _pkcs7(self, entity: _Entity, out: _Out, depth: int, name: str, *, text: bool) -> None:
        smime_type = entity.params.get("smime-type", "").lower()
        if smime_type in ("enveloped-data", "authenveloped-data"):
            raise MailError(ENCRYPTED_ERROR.format(kind="S/MIME"))
        der = _payload(entity)
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
        inner = self.reader.entity(content, depth + 1)
        self.scan_references(inner)
        self.note(f"{name or 'smime.p7m'} was S/MIME signed: its content is faxed, the signature is not")
        self.walk(inner, out, depth + 1, text=text)

    def _forwarded(self, entity: _Entity, out: _Out, depth: int) -> None:
        inner = self.reader.entity(_payload(entity), depth + 1, top=True)
        self.scan_references(inner)
        subject = " ".join(decode_rfc2047(inner.get("subject")).split())
        before = len(out.attachments)
        self.walk(inner, out, depth + 1, text=False)
        what = f'the forwarded message "{subject}"' if subject else "the forwarded message"
        if len(out.attachments) > before:
            self.note(f"{what}: its attachments are faxed, its text is not")
        else:
            self.note(f"{what} is not faxed (only attachments of forwarded messages are)")

    @staticmethod
    def _estimate(entity: _Entity) -> int:
        """The decoded size of a base64 body without decoding it (line ends and spaces
        discounted), so that a huge attachment is refused cheaply; else 0."""
        body = entity.body
        if entity.get("content-transfer-encoding").strip().lower() != "base64":
            return 0
        lines = body.count(b"\n")
        space = lines * 2 if b"\r\n" in body[:4096] else lines
        return (len(body) - space) * 3 // 4

    def _attachment(self, entity: _Entity, out: _Out, name: str) -> None:
        ctype = entity.ctype
        content_id = entity.content_id
        location = entity.get("content-location").strip().lower()
        if (content_id and content_id in self.referenced) or (location and location in self.referenced):
            return  # an inline image of the HTML body
        if _is_archive(name, ctype):
            zipped = "zip" in ctype or name.lower().endswith((".zip", ".zipx"))
            kind = "a zip archive, and zip archives are" if zipped else "an archive, and archives are"
            raise MailError(f"{name or 'an attachment'} is {kind} not faxed: attach the documents themselves")
        label = name or f"an attachment of type {ctype}"
        size = self._estimate(entity)
        data = b"" if size > self.max_bytes * 1.05 else _payload(entity)
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
            charset = entity.params.get("charset", "")
            if charset:
                ctype = f"{ctype}; charset={charset.lower()}"
        out.attachments.append(Attachment(name, ctype, data))


# -- the message's headers --------------------------------------------------------------------

def _first_address(value: str) -> tuple[str, str]:
    boxes = parse_address_list(value)
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


def _automatic(top: _Entity, sender: str, return_path: str | None) -> bool:
    auto = top.get("auto-submitted").split(";", 1)[0].strip().lower()
    if auto and auto != "no":
        return True
    if top.get("precedence").strip().lower() in ("bulk", "junk", "list"):
        return True
    if top.has("list-id") or top.has("x-autoreply") or top.has("x-autorespond"):
        return True
    if return_path == "":
        return True
    suppress = {t.strip().lower() for t in top.get("x-auto-response-suppress").split(",")}
    if "all" in suppress:
        return True
    local = sender.rpartition("@")[0] if "@" in sender else sender
    if local in ("mailer-daemon", "postmaster"):
        return True
    return top.ctype == "multipart/report"


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
    reader = _Reader()
    top = reader.entity(raw, 0, top=True)

    sender, sender_name = _first_address(top.get("from"))
    reply_to = _first_address(top.get("reply-to"))[0]
    return_path: str | None = None
    if top.has("return-path"):
        value = top.get("return-path").strip()
        return_path = "" if value.replace(" ", "") in ("<>", "") else _first_address(value)[0]
    subject = " ".join(decode_rfc2047(top.get("subject")).split())
    message_id = _strip_id(top.get("message-id"))[:998]

    headers = [v for name in ("to", "cc", "bcc") for v in top.get_all(name)]
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
        r for value in top.get_all("authentication-results") for r in parse_authentication_results(value)
    ]

    walker = _Walker(reader, max_attachment_bytes)
    walker.scan_references(top)
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
        date=_date(top.get("date")),
        recipients=recipients,
        other_recipients=others,
        body_text=body,
        attachments=out.attachments,
        authentication_results=results,
        automatic=_automatic(top, sender, return_path),
        notes=walker.notes,
    )
