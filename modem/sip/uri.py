"""SIP URIs, name-addr values, Via and CSeq (RFC 3261 sections 19.1, 20 and 25).

Values parse from header text and print back in canonical form.  Parameters keep their
order; a parameter without a value (``;lr``) maps to None.  Anything malformed raises
:class:`SipParseError` naming the part that was wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from modem.sip.errors import SipParseError

Params = dict[str, str | None]

_TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+\-.]*$")


def split_outside(text: str, sep: str) -> list[str]:
    """Split on ``sep`` where it is outside double quotes and angle brackets."""
    parts: list[str] = []
    start = 0
    quoted = False
    angle = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            angle += 1
        elif ch == ">":
            angle = max(0, angle - 1)
        elif ch == sep and angle == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if quoted:
        raise SipParseError("unterminated quoted string")
    parts.append(text[start:])
    return parts


def parse_params(text: str) -> Params:
    """``;a=b;lr`` (leading ``;`` optional) as an ordered dict; names lower-cased."""
    params: Params = {}
    for item in split_outside(text, ";"):
        item = item.strip()
        if not item:
            continue
        name, eq, value = item.partition("=")
        name = name.strip().lower()
        if not _TOKEN.match(name):
            raise SipParseError(f"bad parameter name {name!r}")
        params[name] = value.strip() if eq else None
    return params


def format_params(params: Params) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def _split_hostport(text: str, what: str) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipParseError(f"bad IPv6 reference in {what}")
        host, rest = text[: end + 1], text[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else None
        if rest and port_text is None:
            raise SipParseError(f"junk after host in {what}")
    else:
        host, colon, port_text_raw = text.partition(":")
        port_text = port_text_raw if colon else None
    if not host or not _HOST.match(host):
        raise SipParseError(f"bad host {host!r} in {what}")
    port: int | None = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SipParseError(f"bad port {port_text!r} in {what}")
        port = int(port_text)
    return host.lower(), port


def _format_hostport(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


@dataclass
class SipUri:
    """``sip:user@host:port;params?headers``; other schemes (``tel:``) keep ``opaque``."""

    host: str = ""
    user: str | None = None
    port: int | None = None
    scheme: str = "sip"
    params: Params = field(default_factory=dict)
    headers: str = ""
    opaque: str | None = None

    @classmethod
    def parse(cls, text: str) -> SipUri:
        text = text.strip()
        scheme, colon, rest = text.partition(":")
        if not colon or not _SCHEME.match(scheme):
            raise SipParseError(f"not a URI: {text[:60]!r}")
        scheme = scheme.lower()
        if scheme not in ("sip", "sips"):
            if not rest or any(c.isspace() for c in rest):
                raise SipParseError(f"bad {scheme} URI")
            return cls(scheme=scheme, opaque=rest)
        userinfo, at, hostpart = rest.partition("@")  # the user part may hold ';' and '?'
        if not at:
            hostpart = userinfo
        user: str | None = None
        if at:
            user = userinfo.partition(":")[0]
            if not user or any(c.isspace() or c in "<>\"" for c in user):
                raise SipParseError("bad user part in SIP URI")
        hostpart, _, headers = hostpart.partition("?")
        hostport, _, params = hostpart.partition(";")
        host, port = _split_hostport(hostport, "SIP URI")
        return cls(host=host, user=user, port=port, scheme=scheme, params=parse_params(params),
                   headers=headers)

    @property
    def transport(self) -> str:
        return (self.params.get("transport") or "udp").lower()

    @property
    def lr(self) -> bool:
        return "lr" in self.params

    def hostport(self, default: int = 5060) -> tuple[str, int]:
        """Where to send to (``maddr`` ignored: trunks give addresses, not SRV)."""
        return self.host.strip("[]"), self.port or default

    def __str__(self) -> str:
        if self.opaque is not None:
            return f"{self.scheme}:{self.opaque}"
        user = f"{self.user}@" if self.user else ""
        headers = f"?{self.headers}" if self.headers else ""
        hostport = _format_hostport(self.host, self.port)
        return f"{self.scheme}:{user}{hostport}{format_params(self.params)}{headers}"


_DISPLAY = re.compile(r'^\s*(?:"((?:[^"\\]|\\.)*)"|([^<"]*?))\s*<([^>]*)>(.*)$', re.S)


@dataclass
class NameAddr:
    """A From/To/Contact/Route value: optional display name, URI and header parameters."""

    uri: SipUri
    display: str | None = None
    params: Params = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        m = _DISPLAY.match(text)
        if m:
            quoted, token, uri_text, tail = m.groups()
            display = quoted if quoted is not None else (token.strip() or None)
            if display is not None and quoted is not None:
                display = re.sub(r"\\(.)", r"\1", display)
            if tail.strip() and not tail.strip().startswith(";"):
                raise SipParseError("junk after '>' in name-addr")
            return cls(SipUri.parse(uri_text), display, parse_params(tail))
        if "<" in text or ">" in text:
            raise SipParseError("unbalanced '<' in name-addr")
        # addr-spec: the parameters belong to the header, not the URI (RFC 3261 20.10)
        uri_text, _, params = text.partition(";")
        if "?" in uri_text:
            raise SipParseError("URI with headers must be in angle brackets")
        return cls(SipUri.parse(uri_text), None, parse_params(params))

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        display = ""
        if self.display:
            escaped = self.display.replace("\\", "\\\\").replace('"', '\\"')
            display = f'"{escaped}" '
        return f"{display}<{self.uri}>{format_params(self.params)}"


@dataclass
class Via:
    """One Via value: ``SIP/2.0/UDP host:port;branch=...;rport;received=...``."""

    transport: str
    host: str
    port: int | None = None
    params: Params = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        head, _, params = text.strip().partition(";")
        m = re.match(r"^SIP\s*/\s*2\.0\s*/\s*([A-Za-z0-9\-]+)\s+(\S+)\s*$", head)
        if not m:
            raise SipParseError(f"bad Via {head[:60]!r}")
        host, port = _split_hostport(m.group(2), "Via")
        return cls(m.group(1).upper(), host, port, parse_params(params))

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | None:
        value = self.params.get("rport")
        return int(value) if value and value.isdigit() else None

    def __str__(self) -> str:
        hostport = _format_hostport(self.host, self.port)
        return f"SIP/2.0/{self.transport} {hostport}{format_params(self.params)}"


@dataclass(frozen=True)
class CSeq:
    seq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        parts = text.split()
        if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 10 or not _TOKEN.match(parts[1]):
            raise SipParseError(f"bad CSeq {text[:40]!r}")
        seq = int(parts[0])
        if seq >= 2**31:
            raise SipParseError("CSeq number too large")
        return cls(seq, parts[1])

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"
