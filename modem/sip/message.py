"""SIP requests and responses: parse and serialize (RFC 3261 sections 7, 20 and 25).

Header names are stored canonically (compact forms expanded: ``v`` is Via, ``i`` is Call-ID,
...).  Headers that are comma lists (Via, Contact, Route, Allow, ...) are split into one entry
per value, on commas outside quotes and angle brackets; folded lines are joined.  Sizes are
bounded.  Anything malformed raises :class:`SipParseError` with a short reason; the typed
accessors (``via()``, ``cseq()``, ...) parse on demand and raise the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from modem.sip.errors import SipParseError
from modem.sip.uri import CSeq, NameAddr, SipUri, Via, split_outside

MAX_HEADERS = 128
MAX_HEADER_LINE = 8192
MAX_HEAD = 32768
MAX_BODY = 65536

COMPACT = {
    "v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "l": "Content-Length",
    "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding",
    "o": "Event", "u": "Allow-Events", "r": "Refer-To", "b": "Referred-By", "x": "Session-Expires",
}
_CANONICAL = {name.lower(): name for name in (
    "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Content-Length", "Content-Type",
    "Supported", "Subject", "Content-Encoding", "Event", "Allow-Events", "Refer-To", "Referred-By",
    "Session-Expires", "Min-SE", "Max-Forwards", "Route", "Record-Route", "Allow", "Require",
    "Proxy-Require", "Unsupported", "User-Agent", "Server", "Expires", "Min-Expires",
    "WWW-Authenticate", "Authorization", "Proxy-Authenticate", "Proxy-Authorization",
    "Retry-After", "Accept", "Warning", "Reason", "P-Asserted-Identity", "P-Preferred-Identity",
    "Timestamp", "Date", "Organization",
)}
# headers whose values are comma lists (RFC 3261 7.3.1); the auth headers are not
LIST_HEADERS = frozenset({
    "Via", "Contact", "Route", "Record-Route", "Allow", "Supported", "Require", "Proxy-Require",
    "Unsupported", "Accept", "Allow-Events", "Content-Encoding", "P-Asserted-Identity",
})
_TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_MANDATORY = ("Via", "From", "To", "Call-ID", "CSeq")


def canonical_name(name: str) -> str:
    low = name.strip().lower()
    if low in COMPACT:
        return COMPACT[low]
    return _CANONICAL.get(low, name.strip())


@dataclass
class Headers:
    """Ordered header entries (canonical name, value); lookups ignore case."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        key = canonical_name(name).lower()
        return next((v for n, v in self.items if n.lower() == key), None)

    def get_all(self, name: str) -> list[str]:
        key = canonical_name(name).lower()
        return [v for n, v in self.items if n.lower() == key]

    def add(self, name: str, value: str) -> None:
        self.items.append((canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace every entry of ``name`` with one, at the place of the first."""
        key = canonical_name(name).lower()
        for i, (n, _) in enumerate(self.items):
            if n.lower() == key:
                self.items[i] = (canonical_name(name), value)
                self.items = [e for j, e in enumerate(self.items) if j <= i or e[0].lower() != key]
                return
        self.add(name, value)

    def remove(self, name: str) -> None:
        key = canonical_name(name).lower()
        self.items = [(n, v) for n, v in self.items if n.lower() != key]

    def copy(self) -> Headers:
        return Headers(list(self.items))


@dataclass
class _Message:
    headers: Headers
    body: bytes

    # typed accessors (parse on demand; raise SipParseError)
    def _one(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise SipParseError(f"missing {name}")
        return value

    def vias(self) -> list[Via]:
        return [Via.parse(v) for v in self.headers.get_all("Via")]

    def via(self) -> Via:
        return Via.parse(self._one("Via"))

    def from_(self) -> NameAddr:
        return NameAddr.parse(self._one("From"))

    def to(self) -> NameAddr:
        return NameAddr.parse(self._one("To"))

    def call_id(self) -> str:
        value = self._one("Call-ID").strip()
        if not value or any(c.isspace() for c in value):
            raise SipParseError("bad Call-ID")
        return value

    def cseq(self) -> CSeq:
        return CSeq.parse(self._one("CSeq"))

    def contacts(self) -> list[NameAddr]:
        return [NameAddr.parse(v) for v in self.headers.get_all("Contact") if v.strip() != "*"]

    def record_routes(self) -> list[NameAddr]:
        return [NameAddr.parse(v) for v in self.headers.get_all("Record-Route")]

    def tokens(self, name: str) -> set[str]:
        """A token list header (Allow, Supported, Require) as lower-case tokens."""
        return {v.strip().lower() for v in self.headers.get_all(name) if v.strip()}

    def int_header(self, name: str) -> int | None:
        value = self.headers.get(name)
        if value is None:
            return None
        number = value.split(";")[0].strip()
        if not number.isdigit() or len(number) > 10:
            raise SipParseError(f"bad {name}")
        return int(number)

    def check(self) -> None:
        """Mandatory headers present and parseable (RFC 3261 8.1.1)."""
        for name in _MANDATORY:
            self._one(name)
        self.vias()
        self.from_()
        self.to()
        self.call_id()
        self.cseq()
        self.contacts()
        self.record_routes()
        for route in self.headers.get_all("Route"):
            NameAddr.parse(route)
        max_forwards = self.int_header("Max-Forwards")
        if max_forwards is not None and max_forwards > 255:
            raise SipParseError("Max-Forwards above 255")
        self.int_header("Expires")

    def _serialize(self, start: str) -> bytes:
        lines = [start]
        lines.extend(f"{n}: {v}" for n, v in self.headers.items if n != "Content-Length")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


@dataclass
class SipRequest(_Message):
    method: str = ""
    uri: SipUri = field(default_factory=SipUri)

    def check(self) -> None:
        super().check()
        if self.cseq().method != self.method:
            raise SipParseError("CSeq method does not match the request method")

    def serialize(self) -> bytes:
        return self._serialize(f"{self.method} {self.uri} SIP/2.0")


@dataclass
class SipResponse(_Message):
    status: int = 0
    reason: str = ""

    def serialize(self) -> bytes:
        return self._serialize(f"SIP/2.0 {self.status} {self.reason}")


SipMessage = SipRequest | SipResponse


def _head_lines(head: str) -> list[str]:
    """Lines of the head with folded continuation lines joined."""
    lines: list[str] = []
    for raw in re.split(r"\r?\n", head):
        if raw[:1] in (" ", "\t"):
            if len(lines) < 2:
                raise SipParseError("continuation line without a header")
            lines[-1] += " " + raw.strip()
        else:
            lines.append(raw)
        if len(raw) > MAX_HEADER_LINE or len(lines[-1]) > MAX_HEADER_LINE:
            raise SipParseError("header line too long")
    return lines


def _split_head(data: bytes) -> tuple[str, bytes]:
    data = data.lstrip(b"\r\n")
    m = re.search(rb"\r?\n\r?\n", data)
    if m is None:
        if len(data) > MAX_HEAD:
            raise SipParseError("header section too long")
        head, body = data, b""
    else:
        head, body = data[: m.start()], data[m.end() :]
    if len(head) > MAX_HEAD:
        raise SipParseError("header section too long")
    try:
        return head.decode("utf-8"), body
    except UnicodeDecodeError as exc:
        raise SipParseError("header section is not UTF-8") from exc


def _parse_headers(lines: list[str], *, lenient: bool = False) -> Headers:
    """The header section; ``lenient`` skips lines that are no header (for a 400's sake)."""
    headers = Headers()
    for line in lines:
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not _TOKEN.match(name):
            if lenient:
                continue
            raise SipParseError(f"bad header line {line[:40]!r}")
        canon = canonical_name(name)
        value = value.strip()
        if canon in LIST_HEADERS:
            values = [v.strip() for v in split_outside(value, ",")]
            if canon == "Via" and any(not v for v in values):
                raise SipParseError("empty Via value")
            for v in values:
                if v:
                    headers.add(canon, v)
        else:
            headers.add(canon, value)
        if len(headers.items) > MAX_HEADERS:
            raise SipParseError("too many headers")
    return headers


def parse_message(data: bytes, *, check: bool = True) -> SipMessage:
    """One SIP message from a datagram (or a whole message from :class:`StreamFramer`).

    ``check=False`` parses what it can to answer a bad request with 400: it skips the
    mandatory header check, lines that are no header, and a bad Content-Length.
    """
    head, body = _split_head(data)
    lines = _head_lines(head)
    if not lines or not lines[0]:
        raise SipParseError("empty message")
    start = lines[0]
    headers = _parse_headers(lines[1:], lenient=not check)
    length_text = headers.get("Content-Length")
    if length_text is not None and check:
        length_text = length_text.strip()
        if not length_text.isdigit() or len(length_text) > 9:
            raise SipParseError("bad Content-Length")
        length = int(length_text)
        if length > len(body):
            raise SipParseError("Content-Length larger than the body")
        body = body[:length]
    if len(body) > MAX_BODY:
        raise SipParseError("body too large")
    msg: SipMessage
    if start.startswith("SIP/"):
        m = re.match(r"^SIP/2\.0 ([1-6][0-9][0-9]) ?(.*)$", start)
        if not m:
            raise SipParseError(f"bad status line {start[:60]!r}")
        msg = SipResponse(headers, body, status=int(m.group(1)), reason=m.group(2))
    else:
        parts = start.split(" ")
        if len(parts) != 3 or not _TOKEN.match(parts[0]):
            raise SipParseError(f"bad request line {start[:60]!r}")
        if parts[2] != "SIP/2.0":
            raise SipParseError(f"unsupported SIP version {parts[2][:20]!r}")
        msg = SipRequest(headers, body, method=parts[0], uri=SipUri.parse(parts[1]))
    if check:
        msg.check()
    return msg


class StreamFramer:
    """Cuts a TCP byte stream into whole messages (Content-Length framing, RFC 3261 18.3).

    CRLF keep-alives between messages are dropped.  A message without Content-Length is
    taken as having no body.  Oversized input raises :class:`SipParseError`: the stream
    cannot be resynchronised and the connection should be closed.
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out: list[bytes] = []
        while True:
            self._buffer = self._buffer.lstrip(b"\r\n")
            m = re.search(rb"\r?\n\r?\n", self._buffer)
            if m is None:
                if len(self._buffer) > MAX_HEAD:
                    raise SipParseError("header section too long")
                return out
            if m.start() > MAX_HEAD:
                raise SipParseError("header section too long")
            length = self._content_length(self._buffer[: m.start()])
            end = m.end() + length
            if len(self._buffer) < end:
                return out
            out.append(self._buffer[:end])
            self._buffer = self._buffer[end:]

    @staticmethod
    def _content_length(head: bytes) -> int:
        for line in re.split(rb"\r?\n", head)[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() in (b"content-length", b"l"):
                text = value.strip()
                if not text.isdigit() or len(text) > 9:
                    raise SipParseError("bad Content-Length")
                if int(text) > MAX_BODY:
                    raise SipParseError("body too large")
                return int(text)
        return 0


REASONS = {
    100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    407: "Proxy Authentication Required", 408: "Request Timeout", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 420: "Bad Extension", 422: "Session Interval Too Small",
    481: "Call/Transaction Does Not Exist", 483: "Too Many Hops", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 491: "Request Pending",
    500: "Server Internal Error", 501: "Not Implemented", 503: "Service Unavailable",
    505: "Version Not Supported", 603: "Decline",
}


def make_response(request: SipRequest, status: int, reason: str | None = None, *,
                  to_tag: str | None = None) -> SipResponse:
    """A response copying Via, From, To (plus ``to_tag`` if it has none), Call-ID and CSeq
    (RFC 3261 8.2.6); works on an unchecked request too, copying the raw text."""
    headers = Headers()
    for name in ("Via", "Record-Route", "From", "To", "Call-ID", "CSeq"):
        for value in request.headers.get_all(name):
            if name == "Record-Route" and not 100 < status < 300:
                continue
            if name == "To" and to_tag and ";tag=" not in value.replace(" ", "").lower():
                value = f"{value};tag={to_tag}"
            headers.add(name, value)
    return SipResponse(headers, b"", status=status, reason=reason or REASONS.get(status, ""))
