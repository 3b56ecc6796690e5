"""HTTP digest authentication, client side, as SIP uses it (RFC 2617, RFC 7616, RFC 8760).

Parses ``WWW-Authenticate`` / ``Proxy-Authenticate`` values (several challenges in one
value, quoted strings with commas and escapes), picks the strongest challenge we can answer
(SHA-256 before MD5, RFC 8760 2.4), and computes the ``Authorization`` /
``Proxy-Authorization`` value: ``qop=auth`` (and ``auth-int``), the legacy RFC 2069 form
when the server offers no qop, the ``-sess`` algorithms, ``opaque``, ``userhash``.
Pure functions: the caller supplies the cnonce and keeps the nonce count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from modem.errors import DigestError

_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data, usedforsecurity=False).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
}
_STRENGTH = {"MD5": 0, "SHA-256": 1}
"""RFC 8760 2.4: a client SHOULD use the strongest algorithm it supports."""


@dataclass(frozen=True)
class Challenge:
    """One ``Digest`` challenge. ``algorithm`` is as the server wrote it, upper-cased
    (``MD5`` when absent, RFC 7616 3.3); ``qop`` the offered options, lower-cased."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    userhash: bool = False
    scheme: str = "Digest"
    algorithm_given: bool = False
    params: dict[str, str] = field(default_factory=dict)

    @property
    def hash_name(self) -> str:
        """The hash of the algorithm: ``MD5`` for ``MD5-sess`` too."""
        return self.algorithm.removesuffix("-SESS")

    @property
    def session(self) -> bool:
        return self.algorithm.endswith("-SESS")

    @property
    def supported(self) -> bool:
        """We can answer it: a known hash, and either no qop or one of auth/auth-int."""
        return self.hash_name in _HASHES and (not self.qop or bool({"auth", "auth-int"} & set(self.qop)))


# ---------------------------------------------------------------- parsing

_SEPARATORS = ' \t,="'


def _skip(text: str, pos: int, chars: str = " \t") -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _token(text: str, pos: int) -> tuple[str, int]:
    start = pos
    while pos < len(text) and text[pos] not in _SEPARATORS:
        pos += 1
    return text[start:pos], pos


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """A quoted-string starting at ``text[pos] == '"'``; backslash escapes the next char."""
    out = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
        elif char == '"':
            return "".join(out), pos + 1
        else:
            out.append(char)
            pos += 1
    raise DigestError(f"unterminated quoted string in {text[:80]!r}")


def _parse_all(value: str) -> list[tuple[str, dict[str, str]]]:
    """RFC 7235 challenges: ``scheme [token68 | param=value, ...]``, comma separated."""
    challenges: list[tuple[str, dict[str, str]]] = []
    pos = 0
    while True:
        pos = _skip(value, pos, " \t,")
        if pos >= len(value):
            return challenges
        name, end = _token(value, pos)
        if not name:
            raise DigestError(f"unexpected {value[pos]!r} in {value[:80]!r}")
        after = _skip(value, end)
        if after < len(value) and value[after] == "=" and challenges:
            equals_end = _skip(value, after, "=")
            rest = _skip(value, equals_end)
            if equals_end - after > 1 or rest >= len(value) or value[rest] == ",":
                pos = equals_end  # a token68 ending in '=' (e.g. Basic's base64): no params
                continue
            if value[rest] == '"':
                param, pos = _quoted(value, rest)
            else:
                param, pos = _token(value, rest)
            challenges[-1][1][name.lower()] = param
        else:
            challenges.append((name, {}))
            pos = end


def parse_challenges(header_value: str) -> list[Challenge]:
    """Every ``Digest`` challenge in one header value (other schemes are skipped)."""
    out = []
    for scheme, params in _parse_all(header_value):
        if scheme.lower() != "digest":
            continue
        if "realm" not in params or "nonce" not in params:
            raise DigestError(f"digest challenge without realm or nonce: {header_value[:80]!r}")
        qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
        out.append(
            Challenge(
                realm=params["realm"],
                nonce=params["nonce"],
                algorithm=params.get("algorithm", "MD5").upper(),
                qop=qop,
                opaque=params.get("opaque"),
                stale=params.get("stale", "").lower() == "true",
                userhash=params.get("userhash", "").lower() == "true",
                scheme=scheme,
                algorithm_given="algorithm" in params,
                params=params,
            )
        )
    return out


def parse_challenge(header_value: str) -> Challenge:
    """The first ``Digest`` challenge of a header value; :class:`DigestError` if none."""
    challenges = parse_challenges(header_value)
    if not challenges:
        raise DigestError(f"no digest challenge in {header_value[:80]!r}")
    return challenges[0]


def pick_challenge(values: list[str]) -> Challenge:
    """The challenge to answer among every ``WWW-``/``Proxy-Authenticate`` value of a
    response: the strongest supported algorithm (SHA-256 over MD5, RFC 8760 2.4), the
    server's order among equals.  A value that does not parse is skipped when another
    one can be answered; :class:`DigestError` if none can."""
    candidates: list[Challenge] = []
    for value in values:
        try:
            candidates += [ch for ch in parse_challenges(value) if ch.supported]
        except DigestError:
            continue
    if not candidates:
        raise DigestError("no digest challenge with an algorithm and qop we support")
    return max(candidates, key=lambda ch: _STRENGTH[ch.hash_name])  # max keeps the first of equals


# ---------------------------------------------------------------- response


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def response(
    ch: Challenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce: str,
    nc: int,
    body: bytes = b"",
) -> tuple[str, str | None]:
    """(the ``response`` value, the qop used or None) per RFC 7616 3.4.1-3.4.3."""
    if not ch.supported:
        raise DigestError(f"cannot answer a {ch.algorithm} challenge with qop {','.join(ch.qop)!r}")
    h = _HASHES[ch.hash_name]

    def kd(secret: str, data: str) -> str:
        return h(f"{secret}:{data}".encode())

    ha1 = h(f"{username}:{ch.realm}:{password}".encode())
    if ch.session:
        ha1 = h(f"{ha1}:{ch.nonce}:{cnonce}".encode())
    qop = None if not ch.qop else ("auth" if "auth" in ch.qop else "auth-int")
    a2 = f"{method}:{uri}" if qop != "auth-int" else f"{method}:{uri}:{h(body)}"
    if qop is None:  # RFC 2069 compatibility: no cnonce, no nc
        return kd(ha1, f"{ch.nonce}:{h(a2.encode())}"), None
    return kd(ha1, f"{ch.nonce}:{nc:08x}:{cnonce}:{qop}:{h(a2.encode())}"), qop


def authorization(
    ch: Challenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce: str,
    nc: int,
    body: bytes = b"",
) -> str:
    """The ``Authorization``/``Proxy-Authorization`` header value answering ``ch``.

    ``nc`` is the count of requests sent with this nonce (1 for the first), written as 8
    hex digits; ``body`` matters only for ``qop=auth-int``.  With ``userhash=true`` the
    username is sent hashed (RFC 7616 3.4.4)."""
    value, qop = response(
        ch, method=method, uri=uri, username=username, password=password, cnonce=cnonce, nc=nc, body=body
    )
    shown = _HASHES[ch.hash_name](f"{username}:{ch.realm}".encode()) if ch.userhash else username
    parts = [
        f"username={_quote(shown)}",
        f"realm={_quote(ch.realm)}",
        f"nonce={_quote(ch.nonce)}",
        f"uri={_quote(uri)}",
        f"response={_quote(value)}",
    ]
    if ch.algorithm_given:
        parts.append(f"algorithm={ch.params.get('algorithm', ch.algorithm)}")
    if qop is not None:
        parts += [f"cnonce={_quote(cnonce)}", f"qop={qop}", f"nc={nc:08x}"]
    if ch.opaque is not None:
        parts.append(f"opaque={_quote(ch.opaque)}")
    if ch.userhash:
        parts.append("userhash=true")
    return f"{ch.scheme} " + ", ".join(parts)
