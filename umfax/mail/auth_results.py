"""Authentication-Results (RFC 8601): what the receiving mail servers found of SPF,
DKIM, DMARC… for a message, read tolerantly.  :mod:`umfax.mail.authorize` decides from
these results whether mail is genuine.

Sans-IO: a pure function of a header value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["AuthResult", "parse_authentication_results"]


@dataclass(frozen=True, slots=True)
class AuthResult:
    """One method's result from an Authentication-Results header (RFC 8601)."""

    authserv_id: str
    method: str  # spf, dkim, dmarc… (lowercase)
    result: str  # pass, fail, none… (lowercase)
    properties: dict[str, str]  # e.g. {"header.from": "example.com", "smtp.mailfrom": "…"}


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
