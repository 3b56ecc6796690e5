"""Until ``modem/sip/digest.py`` (another helper's) is on main, a tiny stand-in for the tests.

It follows the interface in SIP-DESIGN.md: MD5 with qop=auth only.  When the real module
exists it is used and this stand-in is never installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
import types
from dataclasses import dataclass


@dataclass
class _Challenge:
    scheme: str
    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False


def _parse_challenge(value: str) -> _Challenge:
    scheme, _, rest = value.strip().partition(" ")
    fields = {k.lower(): v1 or v2 for k, v1, v2 in re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]+))', rest)}
    return _Challenge(scheme, fields["realm"], fields["nonce"], fields.get("algorithm", "MD5"),
                      tuple(q.strip() for q in fields.get("qop", "").split(",") if q.strip()),
                      fields.get("opaque"), fields.get("stale", "").lower() == "true")


def _pick_challenge(values: list[str]) -> _Challenge:
    return _parse_challenge(values[0])


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _authorization(ch: _Challenge, *, method: str, uri: str, username: str, password: str, cnonce: str,
                   nc: int, body: bytes = b"") -> str:
    ha1 = md5(f"{username}:{ch.realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    response = md5(f"{ha1}:{ch.nonce}:{nc:08x}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{username}", realm="{ch.realm}", nonce="{ch.nonce}", uri="{uri}", '
            f'response="{response}", algorithm=MD5, qop=auth, nc={nc:08x}, cnonce="{cnonce}"')


if importlib.util.find_spec("modem.sip.digest") is None:
    _stub = types.ModuleType("modem.sip.digest")
    _stub.Challenge = _Challenge  # type: ignore[attr-defined]
    _stub.parse_challenge = _parse_challenge  # type: ignore[attr-defined]
    _stub.pick_challenge = _pick_challenge  # type: ignore[attr-defined]
    _stub.authorization = _authorization  # type: ignore[attr-defined]
    sys.modules["modem.sip.digest"] = _stub
