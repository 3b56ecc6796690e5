"""Reading MIME with the standard library: header text, parameters, part bodies, the
text of a text part.

Sans-IO, pure functions of a message's bytes.  The mechanics are the standard library's
:mod:`email` package (``BytesParser``, header unfolding, multipart splitting,
base64/quoted-printable/uuencode, RFC 2231 parameters, RFC 2047 words via
:func:`email.header.decode_header`); what is here is reading them tolerantly.

The parser runs with the ``compat32`` policy, the most tolerant one: header values stay
the text that was sent and are only interpreted when asked for, never raising.  (The
``default`` policy parses structured headers on access, and its header parser has raised
on, or been slow with, malformed mail.)  Two additions of ours: a ``multipart`` whose
boundary is missing or wrong (which the stdlib leaves as one block of text) is split at
the boundary its body actually uses (:func:`recover_boundary`), and base64 with a dangling
last character (a truncated message) is decoded as far as it goes instead of handed back
still encoded (:func:`payload_bytes`).
"""

from __future__ import annotations

import base64
import codecs
import re
from email.errors import HeaderParseError, InvalidBase64LengthDefect
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.policy import Compat32
from email.utils import collapse_rfc2231_value

from umfax.mail.html_text import html_to_text

__all__ = [
    "content_type",
    "decode_bytes",
    "decode_rfc2047",
    "decoded_text",
    "header_text",
    "param",
    "parse_bytes",
    "part_filename",
    "part_text",
    "payload_bytes",
    "recover_boundary",
    "safe_filename",
    "strip_id",
    "subparts",
    "transfer_encoding",
    "unencoded",
    "unflow",
]

# -- header text: charsets and RFC 2047 encoded words -----------------------------------------

_LATIN1_LABELS = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii", "l1", "cp819"}


def decode_bytes(data: bytes, charset: str = "") -> str:
    """``data`` as text in ``charset``, never failing: an unknown, missing or wrong
    charset falls back to UTF-8, then Windows-1252 (what mislabelled mail usually is)."""
    label = charset.strip().strip("\"'").lower()
    if label in _LATIN1_LABELS:
        # ASCII and Latin-1 labels are routinely applied to UTF-8 or Windows-1252 text.
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", errors="replace")
    if label and label not in ("utf-8", "utf8", "unknown-8bit", "x-unknown", "unknown"):
        try:
            return data.decode(codecs.lookup(label).name)
        except Exception:  # unknown or non-text codec, or bytes not in it: fall back
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


_ENCODED_RUN = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=(?:\s*=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)*")


def _decode_run(match: re.Match[str]) -> str:
    try:
        chunks = decode_header(match.group(0))
    except (HeaderParseError, ValueError):  # undecodable base64
        return match.group(0)
    return "".join(
        data if isinstance(data, str) else decode_bytes(data, (charset or "").partition("*")[0])
        for data, charset in chunks
    )


def decode_rfc2047(text: str) -> str:
    """``text`` with its RFC 2047 encoded words decoded (by :func:`email.header.decode_header`).
    Adjacent encoded words are joined (the space between them is not text) and their bytes
    decoded together, so a character split across two words survives.  Tolerant: encoded
    words inside quoted strings are decoded too (clients write them), a wrong or unknown
    charset falls back as in :func:`decode_bytes`, undecodable words are left as they are."""
    return _ENCODED_RUN.sub(_decode_run, text) if "=?" in text else text


# -- the parser and its policy ---------------------------------------------------------------

_FOLD = re.compile(r"[ \t]*(?:\r\n|\r|\n)[ \t]*")


class _Policy(Compat32):
    """``compat32``, with header values read back unfolded and as plain ``str``: their
    8-bit bytes (raw UTF-8 or Latin-1, which the parser carries as surrogate escapes and
    ``compat32`` would wrap in ``Header`` objects) become Latin-1 characters, one per
    byte.  Lossless, so RFC 2231 values in any charset decode right; :func:`header_text`
    turns such a value into text."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        value = str(value).encode("utf-8", "surrogateescape").decode("latin-1")
        return _FOLD.sub(" ", value).strip()


_POLICY = _Policy()


def parse_bytes(data: bytes) -> Message:
    """``data`` (a message or a part) parsed with the tolerant policy; never raises."""
    return BytesParser(policy=_POLICY).parsebytes(data)


def unencoded(value: str | None) -> str:
    """A header value's bytes as text: UTF-8, else Windows-1252 (what unlabelled 8-bit
    headers are)."""
    return decode_bytes((value or "").encode("latin-1", "replace"))


def header_text(value: str | None) -> str:
    """A header value as text, RFC 2047 encoded words decoded."""
    return decode_rfc2047(unencoded(value))


def param(part: Message, name: str, header: str = "content-type") -> str:
    """A parameter's text: RFC 2231 continuations and charsets by the stdlib; RFC 2047
    words in plain values decoded too (mail clients write them)."""
    try:
        value = part.get_param(name, header=header)
    except (TypeError, ValueError):  # e.g. both ``name*`` and ``name*0``: the stdlib gives up
        return ""
    if isinstance(value, tuple):
        return collapse_rfc2231_value(value, fallback_charset="utf-8")
    return header_text(value)


def part_filename(part: Message) -> str:
    """The part's file name (Content-Disposition ``filename``, else Content-Type ``name``),
    made safe: no directories, no control characters, at most 200 characters."""
    return safe_filename(param(part, "filename", "content-disposition") or param(part, "name"))


_TYPE = re.compile(r"[a-z0-9!#$&^_.+\-]+/[a-z0-9!#$&^_.+\-]+")


def content_type(part: Message) -> str:
    """The part's type: as the parser split it; a multipart that could not be split is
    text (RFC 2046 5.1.7), a malformed type the default (RFC 2045 5.2)."""
    ctype = part.get_content_type()
    if part.is_multipart():
        return ctype
    if ctype.startswith("multipart/"):
        return "text/plain"
    return ctype if _TYPE.fullmatch(ctype) else part.get_default_type()


def subparts(part: Message) -> list[Message]:
    """The children of a multipart (or of a ``message/*`` part); none for a leaf."""
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def transfer_encoding(part: Message) -> str:
    return part.get("content-transfer-encoding", "").lower()


def payload_bytes(part: Message) -> bytes:
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


def recover_boundary(part: Message) -> int:
    """A multipart whose boundary parameter is missing or wrong, left by the parser as
    text: split it at the first ``--x`` line seen twice (or closed) in its first megabyte.
    Returns how many bytes were parsed again."""
    body = payload_bytes(part)
    seen: dict[bytes, int] = {}
    for match in _BOUNDARY_LINE.finditer(body[: 1 << 20]):
        boundary = match.group(1)
        seen[boundary] = seen.get(boundary, 0) + 1
        if seen[boundary] >= 2 or match.group(2):
            head = f'Content-Type: {part.get_content_type()}; boundary="{boundary.decode()}"\r\n\r\n'
            split = parse_bytes(head.encode() + body)
            if split.is_multipart():
                part.set_payload(split.get_payload())
            return len(body)
    return 0


def safe_filename(name: str) -> str:
    """``name`` without directories or unprintable characters, at most 200 characters
    (the extension kept)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip(' ."')
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else name[:200]
    return name


def strip_id(value: str) -> str:
    """A Message-ID or Content-ID without its angle brackets (or its first word)."""
    value = value.strip()
    match = re.search(r"<([^<>]*)>", value)
    if match:
        return match.group(1).strip()
    return value.split()[0] if value.split() else ""


# -- the text of a text part -------------------------------------------------------------

def unflow(text: str, delsp: bool) -> str:
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


def decoded_text(part: Message) -> str:
    """A text part's body as text, in its charset (falling back as :func:`decode_bytes`
    does), without a byte order mark, line ends as ``\\n``."""
    text = decode_bytes(payload_bytes(part), part.get_content_charset() or "")
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def part_text(part: Message) -> str:
    """A text part made readable: HTML as text, ``format=flowed`` unwrapped."""
    text = decoded_text(part)
    if content_type(part) == "text/html":
        return html_to_text(text)
    if param(part, "format").lower() == "flowed":
        text = unflow(text, param(part, "delsp").lower() == "yes")
    return text
