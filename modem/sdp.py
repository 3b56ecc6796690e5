"""SDP (RFC 4566) parse/serialize and the offer/answer (RFC 3264) a fax trunk needs.

Two kinds of stream: ``m=audio <port> RTP/AVP`` with PCMU (0), PCMA (8) and
telephone-event, and ``m=image <port> udptl t38`` carrying the T.38 attributes of
RFC 4612 / T.38 Annex D (see :class:`T38Params`).  Pure functions and dataclasses, no I/O.

Parsing is liberal where real peers differ (LF or CRLF, attribute names in any case,
T.38 flags as ``a=T38FaxFillBitRemoval`` or ``a=T38FaxFillBitRemoval:1``, rtpengine's
``localTFC`` spelling) and strict where a guess would be wrong (a missing ``v=``/``o=``, a
bad port, a non-numeric T.38 value): those raise :class:`SdpError` naming the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from modem.errors import SdpError

RateManagement = Literal["transferredTCF", "localTCF"]
UdpEc = Literal["t38UDPRedundancy", "t38UDPFEC", "t38UDPNoEC"]
Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]

STATIC_PAYLOADS = {0: "PCMU", 8: "PCMA"}
"""RFC 3551 static payload types we can use (sent without a=rtpmap too)."""
TELEPHONE_EVENT = "telephone-event"
_DIRECTIONS: tuple[Direction, ...] = ("sendrecv", "sendonly", "recvonly", "inactive")
_SESSION_ORDER = "vosiuepcbtrzka"  # RFC 4566 5: the order of session-level lines
_MEDIA_ORDER = "micbka"

Attribute = tuple[str, str | None]
"""One ``a=`` line: (name, value); value None for a flag (``a=sendrecv``)."""


# ---------------------------------------------------------------- records


@dataclass
class Origin:
    """The ``o=`` line. ``session_version`` must grow with every changed offer/answer."""

    username: str = "-"
    session_id: str = "0"
    session_version: int = 0
    address: str = "0.0.0.0"
    nettype: str = "IN"
    addrtype: str = "IP4"


@dataclass
class Connection:
    """A ``c=`` line; ``address`` may carry a multicast ``/ttl`` suffix, kept as written."""

    address: str
    nettype: str = "IN"
    addrtype: str = "IP4"


@dataclass
class MediaDescription:
    """One ``m=`` section. ``port`` 0 means the stream is rejected/disabled (RFC 3264 6)."""

    kind: str  # "audio", "image", ...
    port: int
    proto: str  # "RTP/AVP", "udptl", ...
    formats: list[str]
    attributes: list[Attribute] = field(default_factory=list)
    connection: Connection | None = None
    port_count: int | None = None
    other: list[tuple[str, str]] = field(default_factory=list)  # i=, b=, k= lines

    @property
    def rejected(self) -> bool:
        return self.port == 0

    @property
    def is_t38(self) -> bool:
        return self.kind == "image" and self.proto.lower() == "udptl" and "t38" in self.formats

    def attribute(self, name: str) -> str | None:
        """The value of the first ``a=name:value`` (name case-insensitive), else None."""
        for key, value in self.attributes:
            if key.lower() == name.lower():
                return value
        return None

    def has(self, name: str) -> bool:
        return any(key.lower() == name.lower() for key, _ in self.attributes)

    @property
    def direction(self) -> Direction:
        for key, _ in self.attributes:
            if key in _DIRECTIONS:
                return key  # type: ignore[return-value]
        return "sendrecv"

    def rtpmap(self) -> dict[str, str]:
        """Payload type -> encoding name (``PCMU``, ``telephone-event``), static types included."""
        names = {
            fmt: STATIC_PAYLOADS[int(fmt)]
            for fmt in self.formats
            if fmt.isascii() and fmt.isdigit() and int(fmt) in STATIC_PAYLOADS
        }
        for key, value in self.attributes:
            if key.lower() == "rtpmap" and value:
                pt, _, rest = value.partition(" ")
                names[pt] = rest.split("/")[0].strip()
        return names


@dataclass
class SessionDescription:
    """A whole SDP body."""

    origin: Origin
    session_name: str = "-"
    connection: Connection | None = None
    times: list[str] = field(default_factory=lambda: ["0 0"])
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)  # i=, u=, e=, p=, b=, r=, z=, k=

    @classmethod
    def parse(cls, text: str | bytes) -> SessionDescription:
        """Parse an SDP body; :class:`SdpError` names the first bad line."""
        return _parse(text)

    def serialize(self) -> str:
        """The SDP text, CRLF line ends, lines in RFC 4566 order."""
        return _serialize(self)

    def media_address(self, media: MediaDescription) -> str | None:
        """Where ``media`` goes: its own ``c=`` else the session's (RFC 4566 5.7)."""
        conn = media.connection or self.connection
        return conn.address.split("/")[0] if conn else None

    def find(self, kind: str) -> MediaDescription | None:
        """The first accepted (port != 0) stream of ``kind`` ("audio"; "image" means T.38)."""
        for media in self.media:
            if media.kind == kind and not media.rejected and (kind != "image" or media.is_t38):
                return media
        return None


# ---------------------------------------------------------------- T.38 attributes


@dataclass(frozen=True)
class T38Params:
    """The T.38 session parameters of RFC 4612 / T.38 Annex D.

    ``max_buffer`` and ``max_datagram`` are declarative: each side states its own receive
    limits (``max_datagram`` is the largest UDPTL datagram it accepts); None = not stated.
    """

    version: int = 0
    max_bit_rate: int = 14400
    rate_management: RateManagement = "transferredTCF"
    max_buffer: int | None = 2000
    max_datagram: int | None = 400
    udp_ec: UdpEc = "t38UDPRedundancy"
    fill_bit_removal: bool = False
    transcoding_mmr: bool = False
    transcoding_jbig: bool = False
    max_ifp: int | None = None  # T38FaxMaxIFP (T.38 2010), rarely sent

    def attributes(self) -> list[Attribute]:
        """The ``a=`` lines, booleans in the flag form (present = true)."""
        attrs: list[Attribute] = [
            ("T38FaxVersion", str(self.version)),
            ("T38MaxBitRate", str(self.max_bit_rate)),
        ]
        attrs += [(name, None) for name, on in self._flags() if on]
        attrs.append(("T38FaxRateManagement", self.rate_management))
        if self.max_buffer is not None:
            attrs.append(("T38FaxMaxBuffer", str(self.max_buffer)))
        if self.max_datagram is not None:
            attrs.append(("T38FaxMaxDatagram", str(self.max_datagram)))
        if self.max_ifp is not None:
            attrs.append(("T38FaxMaxIFP", str(self.max_ifp)))
        attrs.append(("T38FaxUdpEC", self.udp_ec))
        return attrs

    def _flags(self) -> list[tuple[str, bool]]:
        return [
            ("T38FaxFillBitRemoval", self.fill_bit_removal),
            ("T38FaxTranscodingMMR", self.transcoding_mmr),
            ("T38FaxTranscodingJBIG", self.transcoding_jbig),
        ]


_EC_VALUES: dict[str, UdpEc] = {
    "t38udpredundancy": "t38UDPRedundancy",
    "t38udpfec": "t38UDPFEC",
    "t38udpnoec": "t38UDPNoEC",
}
_EC_RANK: dict[UdpEc, int] = {"t38UDPNoEC": 0, "t38UDPRedundancy": 1, "t38UDPFEC": 2}
_RATE_VALUES: dict[str, RateManagement] = {
    "transferredtcf": "transferredTCF",
    "localtcf": "localTCF",
    "localtfc": "localTCF",  # rtpengine writes it so
}


def _number(media: MediaDescription, name: str) -> int | None:
    value = media.attribute(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise SdpError(f"bad a={name}:{value}") from None


def _boolean(media: MediaDescription, name: str) -> bool:
    """Flag form (present = true) or ``:0``/``:1`` form (Cisco, SIPp samples)."""
    if not media.has(name):
        return False
    value = media.attribute(name)
    if value is None or value.strip() == "":
        return True
    if value.strip() in ("0", "1"):
        return value.strip() == "1"
    raise SdpError(f"bad a={name}:{value}")


def t38_params(media: MediaDescription) -> T38Params:
    """Read the T.38 attributes of an ``m=image udptl t38`` section (names in any case).

    Missing values take T.38 Annex D's defaults: version 0, 14400 bit/s, transferredTCF,
    no EC (Asterisk writes no ``T38FaxUdpEC`` line for none), buffer/datagram unknown.
    An unknown EC value is read as none; an unknown rate management is an error.
    """
    rate_text = media.attribute("T38FaxRateManagement")
    rate: RateManagement = "transferredTCF"
    if rate_text is not None:
        if rate_text.strip().lower() not in _RATE_VALUES:
            raise SdpError(f"bad a=T38FaxRateManagement:{rate_text}")
        rate = _RATE_VALUES[rate_text.strip().lower()]
    ec_text = media.attribute("T38FaxUdpEC")
    ec: UdpEc = _EC_VALUES.get((ec_text or "").strip().lower(), "t38UDPNoEC")
    version = _number(media, "T38FaxVersion")
    bit_rate = _number(media, "T38MaxBitRate")
    return T38Params(
        version=0 if version is None else version,
        max_bit_rate=14400 if bit_rate is None else bit_rate,
        rate_management=rate,
        max_buffer=_number(media, "T38FaxMaxBuffer"),
        max_datagram=_number(media, "T38FaxMaxDatagram"),
        udp_ec=ec,
        fill_bit_removal=_boolean(media, "T38FaxFillBitRemoval"),
        transcoding_mmr=_boolean(media, "T38FaxTranscodingMMR"),
        transcoding_jbig=_boolean(media, "T38FaxTranscodingJBIG"),
        max_ifp=_number(media, "T38FaxMaxIFP"),
    )


def negotiate_t38(offered: T38Params, local: T38Params) -> T38Params:
    """The parameters to answer ``offered`` with, given what we support (``local``).

    The rules of RFC 4612 / T.38 Annex D.2.3 for an answer:

    - ``T38FaxVersion``: negotiated, the answer is the lower of the two;
    - ``T38MaxBitRate``: the answer may lower it: the lower of the two;
    - ``T38FaxRateManagement``: must be echoed (the offerer's choice stands);
    - ``T38FaxMaxBuffer``, ``T38FaxMaxDatagram``, ``T38FaxMaxIFP``: declarative, each
      side states its own receive limits: ours;
    - ``T38FaxUdpEC``: the answerer picks a scheme the offer allows, never a stronger one
      (FEC > redundancy > none): ours if the offer allows it, else the offered one;
    - fill-bit removal, MMR and JBIG transcoding: only if both offer them.
    """
    ec = local.udp_ec if _EC_RANK[local.udp_ec] <= _EC_RANK[offered.udp_ec] else offered.udp_ec
    return T38Params(
        version=min(offered.version, local.version),
        max_bit_rate=min(offered.max_bit_rate, local.max_bit_rate),
        rate_management=offered.rate_management,
        max_buffer=local.max_buffer,
        max_datagram=local.max_datagram,
        udp_ec=ec,
        fill_bit_removal=offered.fill_bit_removal and local.fill_bit_removal,
        transcoding_mmr=offered.transcoding_mmr and local.transcoding_mmr,
        transcoding_jbig=offered.transcoding_jbig and local.transcoding_jbig,
        max_ifp=local.max_ifp,
    )


# ---------------------------------------------------------------- offers and answers


def _session(
    address: str, session_id: int | str, version: int, media: list[MediaDescription]
) -> SessionDescription:
    addrtype = "IP6" if ":" in address else "IP4"
    return SessionDescription(
        origin=Origin("umfax", str(session_id), version, address, addrtype=addrtype),
        session_name="umfax",
        connection=Connection(address, addrtype=addrtype),
        media=media,
    )


def t38_media(port: int, params: T38Params) -> MediaDescription:
    """An ``m=image <port> udptl t38`` section carrying ``params``."""
    return MediaDescription("image", port, "udptl", ["t38"], params.attributes())


def audio_media(
    port: int, payload_types: Sequence[int] = (0, 8, 101), *, ptime: int = 20
) -> MediaDescription:
    """An ``m=audio <port> RTP/AVP`` section: static G.711 types and a dynamic
    telephone-event (any payload type not 0/8 is taken as telephone-event)."""
    attrs: list[Attribute] = []
    for pt in payload_types:
        if pt in STATIC_PAYLOADS:
            attrs.append(("rtpmap", f"{pt} {STATIC_PAYLOADS[pt]}/8000"))
        else:
            attrs += [("rtpmap", f"{pt} {TELEPHONE_EVENT}/8000"), ("fmtp", f"{pt} 0-15")]
    attrs += [("ptime", str(ptime)), ("sendrecv", None)]
    return MediaDescription("audio", port, "RTP/AVP", [str(pt) for pt in payload_types], attrs)


def t38_offer(
    address: str, port: int, params: T38Params, session_id: int | str, version: int
) -> SessionDescription:
    """An offer of one T.38 stream (the re-INVITE that switches a call to fax)."""
    return _session(address, session_id, version, [t38_media(port, params)])


def audio_offer(
    address: str,
    port: int,
    payload_types: Sequence[int] = (0, 8, 101),
    *,
    session_id: int | str = 0,
    version: int = 0,
) -> SessionDescription:
    """An offer of one G.711 audio stream (the initial INVITE)."""
    return _session(address, session_id, version, [audio_media(port, payload_types)])


def _rejected(media: MediaDescription) -> MediaDescription:
    """The answer to a stream we do not take: port 0, the offered formats (RFC 3264 6)."""
    return MediaDescription(media.kind, 0, media.proto, list(media.formats))


def _answer_direction(offered: Direction) -> Direction:
    """RFC 3264 6.1: sendonly is answered recvonly and vice versa."""
    return {"sendonly": "recvonly", "recvonly": "sendonly"}.get(offered, offered)  # type: ignore[return-value]


def answer_t38(
    offer: SessionDescription,
    address: str,
    port: int,
    local: T38Params,
    *,
    session_id: int | str = 0,
    version: int = 0,
) -> SessionDescription | None:
    """Answer ``offer`` taking its first T.38 stream (parameters by :func:`negotiate_t38`)
    and rejecting every other m-line (RFC 3264 6: same m-lines, same order, port 0).
    None when no acceptable image stream is offered, :class:`SdpError` when its T.38
    attributes are malformed: either way the caller answers 488."""
    media: list[MediaDescription] = []
    taken = False
    for offered in offer.media:
        if not taken and offered.is_t38 and not offered.rejected:
            params = negotiate_t38(t38_params(offered), local)
            answer = t38_media(port, params)
            if offered.direction != "sendrecv":
                answer.attributes.append((_answer_direction(offered.direction), None))
            media.append(answer)
            taken = True
        else:
            media.append(_rejected(offered))
    return _session(address, session_id, version, media) if taken else None


def answer_audio(
    offer: SessionDescription,
    address: str,
    port: int,
    payload_types: Sequence[int] = (0, 8, 101),
    *,
    session_id: int | str = 0,
    version: int = 0,
) -> SessionDescription | None:
    """Answer ``offer`` taking its first audio stream with a codec we have.

    RFC 3264 6.1: the answer lists formats of the offer, with the offer's payload type
    numbers.  We answer one codec (the first offered that we support, so both ends use the
    same one during a fax) and telephone-event if offered.  None if no audio is acceptable."""
    ours = {STATIC_PAYLOADS[pt] for pt in payload_types if pt in STATIC_PAYLOADS}
    media: list[MediaDescription] = []
    taken = False
    for offered in offer.media:
        codec = event = None
        if (
            not taken
            and offered.kind == "audio"
            and not offered.rejected
            and offered.proto.upper() == "RTP/AVP"
        ):
            names = offered.rtpmap()
            codec = next((f for f in offered.formats if names.get(f, "").upper() in ours), None)
            event = next((f for f in offered.formats if names.get(f, "").lower() == TELEPHONE_EVENT), None)
        if codec is None:
            media.append(_rejected(offered))
            continue
        attrs: list[Attribute] = [("rtpmap", f"{codec} {offered.rtpmap()[codec].upper()}/8000")]
        formats = [codec]
        if event is not None:
            formats.append(event)
            attrs += [("rtpmap", f"{event} {TELEPHONE_EVENT}/8000"), ("fmtp", f"{event} 0-15")]
        attrs += [("ptime", "20"), (_answer_direction(offered.direction), None)]
        media.append(MediaDescription("audio", port, "RTP/AVP", formats, attrs))
        taken = True
    return _session(address, session_id, version, media) if taken else None


class LocalSession:
    """Our side of one call's SDP: a fixed session id and the ``o=`` version, which grows
    by one with every new offer or answer that changes it (RFC 3264 8); a session refresh
    gets :attr:`current` unchanged, same version."""

    def __init__(self, address: str, session_id: int | str) -> None:
        self.address = address
        self.session_id = str(session_id)
        self.version = 0
        self.current: SessionDescription | None = None

    def _keep(self, sdp: SessionDescription | None) -> SessionDescription | None:
        """Take ``sdp`` (built with version + 1) as the current one; None changes nothing."""
        if sdp is not None:
            self.version, self.current = sdp.origin.session_version, sdp
        return sdp

    def audio_offer(self, port: int, payload_types: Sequence[int] = (0, 8, 101)) -> SessionDescription:
        sdp = audio_offer(
            self.address, port, payload_types, session_id=self.session_id, version=self.version + 1
        )
        return self._keep(sdp) or sdp

    def t38_offer(self, port: int, params: T38Params) -> SessionDescription:
        sdp = t38_offer(self.address, port, params, self.session_id, self.version + 1)
        return self._keep(sdp) or sdp

    def answer_t38(self, offer: SessionDescription, port: int, local: T38Params) -> SessionDescription | None:
        v = self.version + 1
        return self._keep(answer_t38(offer, self.address, port, local, session_id=self.session_id, version=v))

    def answer_audio(
        self, offer: SessionDescription, port: int, payload_types: Sequence[int] = (0, 8, 101)
    ) -> SessionDescription | None:
        v = self.version + 1
        return self._keep(
            answer_audio(offer, self.address, port, payload_types, session_id=self.session_id, version=v)
        )


# ---------------------------------------------------------------- text


def _connection(value: str, where: str) -> Connection:
    parts = value.split()
    if len(parts) != 3:
        raise SdpError(f"{where}: bad c= line {value!r}")
    return Connection(parts[2], parts[0], parts[1])


def _media(value: str, where: str) -> MediaDescription:
    parts = value.split()
    if len(parts) < 3:
        raise SdpError(f"{where}: bad m= line {value!r}")
    port_text, _, count_text = parts[1].partition("/")
    if not parts[1].isascii():
        raise SdpError(f"{where}: bad port in m= line {value!r}")
    try:
        port = int(port_text)
        count = int(count_text) if count_text else None
    except ValueError:
        raise SdpError(f"{where}: bad port in m= line {value!r}") from None
    if not 0 <= port <= 65535:
        raise SdpError(f"{where}: port out of range in m= line {value!r}")
    return MediaDescription(parts[0], port, parts[2], parts[3:], port_count=count)


def _origin(value: str, where: str) -> Origin:
    parts = value.split()
    if len(parts) != 6:
        raise SdpError(f"{where}: bad o= line {value!r}")
    try:
        version = int(parts[2])
    except ValueError:
        raise SdpError(f"{where}: bad session version in o= line {value!r}") from None
    return Origin(parts[0], parts[1], version, parts[5], parts[3], parts[4])


def _attribute(value: str) -> Attribute:
    name, colon, rest = value.partition(":")
    return (name.strip(), rest.strip() if colon else None)


def _lines(text: str | bytes) -> Iterable[tuple[int, str, str]]:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SdpError(f"SDP is not UTF-8 text ({exc.reason})") from exc
    for number, raw in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        line = raw.rstrip("\r").strip()
        if not line:
            continue
        if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
            raise SdpError(f"line {number}: not an SDP line {line[:60]!r}")
        yield number, line[0], line[2:]


def _parse(text: str | bytes) -> SessionDescription:
    lines = list(_lines(text))
    if not lines or lines[0][1:] != ("v", "0"):
        raise SdpError("SDP must start with v=0")
    sdp: SessionDescription | None = None
    session_name, connection, times = "-", None, []
    attributes: list[Attribute] = []
    other: list[tuple[str, str]] = []
    current: MediaDescription | None = None
    media: list[MediaDescription] = []
    for number, kind, value in lines[1:]:
        where = f"line {number}"
        if kind == "o" and sdp is None and current is None:
            sdp = SessionDescription(_origin(value, where))
        elif sdp is None:
            raise SdpError(f"{where}: o= must follow v=")
        elif kind == "m":
            current = _media(value, where)
            media.append(current)
        elif kind == "a":
            (current.attributes if current else attributes).append(_attribute(value))
        elif kind == "c":
            if current:
                current.connection = _connection(value, where)
            else:
                connection = _connection(value, where)
        elif current is not None:
            current.other.append((kind, value))
        elif kind == "s":
            session_name = value
        elif kind == "t":
            times.append(value)
        else:
            other.append((kind, value))
    if sdp is None:
        raise SdpError("SDP has no o= line")
    for m in media:
        if m.connection is None and connection is None and not m.rejected:
            raise SdpError(f"m={m.kind} {m.port} has no c= line, nor has the session")
    return replace(
        sdp,
        session_name=session_name,
        connection=connection,
        times=times or ["0 0"],
        attributes=attributes,
        media=media,
        other=other,
    )


def _attr_line(attr: Attribute) -> str:
    return f"a={attr[0]}" if attr[1] is None else f"a={attr[0]}:{attr[1]}"


def _serialize(sdp: SessionDescription) -> str:
    o = sdp.origin
    out = ["v=0", f"o={o.username} {o.session_id} {o.session_version} {o.nettype} {o.addrtype} {o.address}"]
    out.append(f"s={sdp.session_name or '-'}")
    out += [
        f"{k}={v}" for k, v in sorted(sdp.other, key=lambda kv: _SESSION_ORDER.find(kv[0])) if k in "iuep"
    ]
    if sdp.connection:
        c = sdp.connection
        out.append(f"c={c.nettype} {c.addrtype} {c.address}")
    out += [f"{k}={v}" for k, v in sdp.other if k == "b"]
    out += [f"t={t}" for t in sdp.times]
    out += [f"{k}={v}" for k, v in sorted(sdp.other, key=lambda kv: _SESSION_ORDER.find(kv[0])) if k in "rzk"]
    out += [f"{k}={v}" for k, v in sdp.other if k not in "iuepbrzk"]
    out += [_attr_line(a) for a in sdp.attributes]
    for m in sdp.media:
        port = f"{m.port}/{m.port_count}" if m.port_count else str(m.port)
        out.append(" ".join([f"m={m.kind}", port, m.proto, *m.formats]))
        out += [f"i={v}" for k, v in m.other if k == "i"]
        if m.connection:
            c = m.connection
            out.append(f"c={c.nettype} {c.addrtype} {c.address}")
        out += [f"{k}={v}" for k, v in sorted(m.other, key=lambda kv: _MEDIA_ORDER.find(kv[0])) if k != "i"]
        out += [_attr_line(a) for a in m.attributes]
    return "\r\n".join(out) + "\r\n"
