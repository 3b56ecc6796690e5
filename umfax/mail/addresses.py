"""Fax addresses in mail: which recipients of a message are fax numbers, and to whom.

A fax is addressed in one of these ways (all case-insensitive, like mail):

``fax_domain``
    ``15551234567@fax.example.com``, ``+1-555-123-4567@fax.example.com``: a number at one
    of the configured fax domains (exactly; subdomains are not implied).
``outlook``
    An Outlook fax contact: ``[FAX:Name@+1 (555) 123-4567]``, ``[FAX:+1 (555) 123-4567]``
    or ``FAX:Name@+1 (555) 123-4567``.  The number is after the *last* ``@``.
``imceafax``
    The same after Exchange encapsulated it in SMTP (MS-OXCMAIL 2.1.3.1.8, IMCEA):
    ``IMCEAFAX-Name+40+2B1+20+28555+29+20123-4567@example.com``, at any domain.  ``_``
    stands for ``/`` and ``+XX`` for the octet XX.
``fax_equals``
    ``FAX=+15551234567@gateway.example`` or ``FAX=Name@+15551234567@gateway.example``, as
    some gateways write it, at any domain.
``subject``
    No fax address at all, but a number in the subject (``Fax to +1 212 555 0110: …``);
    see :func:`number_from_subject`.

The number is returned as written; the caller normalises it (and says why it is not a
number, when it is not).  :func:`parse_address_list` reads To/Cc/Bcc-style header values
tolerantly: display names (RFC 2047 encoded words decoded), groups, quoted local parts,
comments, and Outlook's bracketed fax addresses whose parentheses are not comments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from umfax.mail.mime import decode_bytes, decode_rfc2047

FaxForm = Literal["fax_domain", "outlook", "imceafax", "fax_equals", "subject"]


@dataclass(frozen=True, slots=True)
class FaxAddress:
    number: str  # as written, without surrounding space, e.g. "+1 (555) 123-4567"
    name: str  # the recipient's name for the cover page ("" if none)
    written: str  # the address as it appeared, for messages to the sender
    form: FaxForm


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One address of an address-list header."""

    name: str  # display name, decoded ("" if none)
    address: str  # the address as written, quotes of a quoted local part removed


# -- address lists ---------------------------------------------------------------------------

_NUMBER_CHARS = re.compile(r"[+0-9 ().\-/\u00a0]+")
_ATOM_END = set('"(<>[,;:')


def _looks_like_number(text: str) -> bool:
    """Digits with the punctuation people write in phone numbers, at least three digits."""
    text = text.strip()
    return bool(_NUMBER_CHARS.fullmatch(text)) and sum(c.isdigit() for c in text) >= 3


def _read_quoted(value: str, i: int) -> tuple[str, int]:
    """The quoted string starting at ``value[i] == '"'``: its text and the index after it."""
    out: list[str] = []
    i += 1
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    return "".join(out), i


def _read_comment(value: str, i: int) -> tuple[str, int]:
    """The (possibly nested) comment starting at ``value[i] == '('``."""
    depth = 0
    out: list[str] = []
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if c == "(":
            depth += 1
            if depth > 1:
                out.append(c)
        elif c == ")":
            depth -= 1
            if depth == 0:
                return "".join(out), i + 1
            out.append(c)
        else:
            out.append(c)
        i += 1
    return "".join(out), i


def _read_until(value: str, i: int, close: str) -> tuple[str, int]:
    """Raw text from ``value[i]`` (an opening bracket) to the matching ``close``,
    skipping quoted strings; brackets included only for ``]``."""
    j = i + 1
    while j < len(value):
        c = value[j]
        if c == "\\":
            j += 2
            continue
        if c == '"':
            _, j = _read_quoted(value, j)
            continue
        if c == "[" and close == ">":
            _, j = _read_until(value, j, "]")
            continue
        if c == close:
            return value[i + 1 : j], j + 1
        j += 1
    return value[i + 1 :], len(value)


def _unquote_local(address: str) -> str:
    """``"+1 555 123"@fax.example.com`` -> ``+1 555 123@fax.example.com``."""
    address = address.strip()
    if address.startswith('"'):
        local, end = _read_quoted(address, 0)
        return local + address[end:]
    return address


def _clean_angle(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith("@") and ":" in raw:  # obsolete source route: <@a,@b:user@c>
        raw = raw.split(":", 1)[1]
    return _unquote_local(raw)


class _ListReader:
    """A tolerant reader of RFC 5322 address lists (``address-list`` / ``mailbox-list``)."""

    def __init__(self, value: str) -> None:
        self.value = value.replace("\r", " ").replace("\n", " ")
        self.out: list[Mailbox] = []
        self._reset()

    def _reset(self) -> None:
        self.segments: list[str] = []  # whitespace-separated words; adjacent tokens concatenate
        self.adjacent = False
        self.comments: list[str] = []
        self.angle: str | None = None

    def _add(self, token: str) -> None:
        if self.adjacent and self.segments:
            self.segments[-1] += token
        else:
            self.segments.append(token)
        self.adjacent = True

    def _flush(self) -> None:
        segments, comments, angle = self.segments, self.comments, self.angle
        self._reset()
        if angle is not None:
            address = _clean_angle(angle)
            if address:
                self.out.append(Mailbox(_name(" ".join(segments)), address))
            return
        if not segments:
            return
        candidates = [
            k
            for k, s in enumerate(segments)
            if "@" in s or s.lower().startswith(("[fax:", "fax:"))
        ]
        glued = any(s.startswith(("@", ".")) or s.endswith(("@", ".")) for s in segments)
        if glued or not candidates:
            # "john @ example.com" or a lone word: the words are the address
            self.out.append(Mailbox(_name(" ".join(comments)), "".join(segments)))
            return
        k = candidates[-1]
        rest = " ".join(s for n, s in enumerate(segments) if n != k)
        self.out.append(Mailbox(_name(rest or " ".join(comments)), segments[k]))

    def read(self) -> list[Mailbox]:
        value = self.value
        i = 0
        while i < len(value):
            c = value[i]
            if c == '"':
                text, i = _read_quoted(value, i)
                self._add(text)
            elif c == "(":
                text, i = _read_comment(value, i)
                self.comments.append(text)
                self.adjacent = False
            elif c == "<":
                text, i = _read_until(value, i, ">")
                self.angle = text
                self.adjacent = False
            elif c == "[":
                text, i = _read_until(value, i, "]")
                self._add("[" + text + "]")
            elif c in ",;":
                self._flush()
                i += 1
            elif c == ":":
                i = self._colon(i)
            elif c.isspace():
                self.adjacent = False
                i += 1
            else:
                j = i
                while j < len(value) and not value[j].isspace() and value[j] not in _ATOM_END:
                    j += 1
                if j == i:  # a stray '>'
                    j += 1
                else:
                    self._add(value[i:j])
                i = j
        self._flush()
        return self.out

    def _colon(self, i: int) -> int:
        """``FAX:Name@+1 (555) 123-4567`` unbracketed, or the start of a group."""
        value = self.value
        lone_fax = len(self.segments) == 1 and self.segments[0].lower() == "fax"
        if self.angle is None and lone_fax and self.adjacent:
            end = i + 1
            while end < len(value) and value[end] not in ",;>":
                end += 1
            body = value[i + 1 : end]
            if _looks_like_number(body.rpartition("@")[2]):
                self.segments[-1] += ":" + body.strip()
                return end
        # a group: "Name: a@b, c@d;" -- the group's name is not a mailbox
        self._reset()
        return i + 1


def _name(text: str) -> str:
    return " ".join(decode_rfc2047(text).split()).strip("'\" ")


def parse_address_list(value: str) -> list[Mailbox]:
    """The mailboxes of a To/Cc/Bcc/From/Reply-To header value, in order (groups
    flattened, empty ones dropped).  Never fails: what cannot be read is skipped."""
    return _ListReader(value).read()


# -- fax addresses ---------------------------------------------------------------------------

_IMCEA_ESCAPE = re.compile(r"\+([0-9A-Fa-f]{2})")


def _imcea_decode(encoded: str) -> str:
    """MS-OXCMAIL IMCEA decoding: ``_`` is ``/``, ``+XX`` the octet 0xXX."""
    data = bytearray()
    i = 0
    while i < len(encoded):
        c = encoded[i]
        if c == "+" and _IMCEA_ESCAPE.match(encoded, i):
            data.append(int(encoded[i + 1 : i + 3], 16))
            i += 3
            continue
        data.extend(b"/" if c == "_" else c.encode("utf-8"))
        i += 1
    return decode_bytes(bytes(data))


def _clean_name(name: str, address: str, number: str) -> str:
    name = " ".join(name.split()).strip("'\" ")
    if name.lower() in (address.lower(), number.lower(), f"[fax:{number}]".lower()):
        return ""
    return name


def _name_and_number(body: str) -> tuple[str, str]:
    """``Name@Company@+1 555`` -> ("Name@Company", "+1 555"): the number is after the last @."""
    name, at, number = body.rpartition("@")
    if not at:
        return "", body.strip()
    return name.strip(), number.strip()


def parse_fax_address(
    address: str, display_name: str = "", *, fax_domains: Sequence[str] = ()
) -> FaxAddress | None:
    """The fax recipient ``address`` names, or None when it is an ordinary mailbox.

    ``display_name`` (the header's display name, already decoded) becomes the
    recipient's name unless the address carries one itself (Outlook, IMCEAFAX, FAX=).
    A clear fax address whose number is not a number is still returned: the caller's
    normalisation says what is wrong with it.
    """
    text = address.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if not text:
        return None
    written = text
    lowered = text.lower()

    if lowered.startswith(("[fax:", "fax:")):
        body = text[text.index(":") + 1 :]
        if lowered.startswith("["):
            body = body[:-1] if body.endswith("]") else body
        name, number = _name_and_number(body)
        return FaxAddress(number, _clean_name(name or display_name, written, number), written, "outlook")

    text = _unquote_local(text)
    local, at, domain = text.rpartition("@")
    if not at:
        return None
    domain = domain.strip().rstrip(".").lower()
    local = local.strip()
    low_local = local.lower()

    if low_local.startswith("imceafax-"):
        name, number = _name_and_number(_imcea_decode(local[len("imceafax-") :]))
        return FaxAddress(number, _clean_name(name or display_name, written, number), written, "imceafax")

    if low_local.startswith("fax="):
        name, number = _name_and_number(local[4:])
        return FaxAddress(number, _clean_name(name or display_name, written, number), written, "fax_equals")

    domains = {d.strip().lstrip("@").rstrip(".").lower() for d in fax_domains}
    if domain in domains and any(c.isdigit() for c in local):
        return FaxAddress(local, _clean_name(display_name, written, local), written, "fax_domain")
    return None


def fax_recipients(
    header_values: Iterable[str], *, fax_domains: Sequence[str] = ()
) -> tuple[list[FaxAddress], list[str]]:
    """The fax recipients of To/Cc/Bcc header values, and the other addresses (lowercased).

    Fax recipients are de-duplicated by the digits of their number (the first keeps its
    place; a later one lends its name when the first has none); order is kept."""
    faxes: list[FaxAddress] = []
    others: list[str] = []
    for value in header_values:
        for box in parse_address_list(value):
            fax = parse_fax_address(box.address, box.name, fax_domains=fax_domains)
            if fax is not None:
                faxes.append(fax)
            elif "@" in box.address and box.address.lower() not in others:
                others.append(box.address.lower())
    return dedupe(faxes), others


def _number_key(number: str) -> str:
    digits = "".join(c for c in number if c.isdigit())
    return digits or number.strip().lower()


def dedupe(faxes: Iterable[FaxAddress]) -> list[FaxAddress]:
    """``faxes`` without repeats of a number (compared by its digits), order kept."""
    seen: dict[str, int] = {}
    out: list[FaxAddress] = []
    for fax in faxes:
        key = _number_key(fax.number)
        if key in seen:
            first = out[seen[key]]
            if not first.name and fax.name:
                out[seen[key]] = FaxAddress(first.number, fax.name, first.written, first.form)
            continue
        seen[key] = len(out)
        out.append(fax)
    return out


# -- a number in the subject ------------------------------------------------------------------

_SUBJECT_NUMBER = re.compile(
    r"""(?ix)
    (?<![\w=@])(?:tele)?fax
    (?:\s*(?:to|an|à|number|num|nr\.?|no\.?|\#))?   # "fax to", "fax no.", "fax #"
    \s*[:\#]?\s*
    (?P<number>\+?\(?\d[\d \t().\-/]*\d)            # digits and phone punctuation
    (?![\w@]|[.\-/]\d)                                # and nothing glued after it
    """
)
_REPLY_PREFIX = re.compile(r"(?i)^\s*(?:re|aw|sv|vs|antw|rif|odp|ynt)\s*(?:\[\d+\])?\s*:")
_DATE_LIKE = re.compile(r"^\d{1,4}[-./]\d{1,2}[-./]\d{1,4}$")


def number_from_subject(subject: str) -> str | None:
    """A fax number given in the subject, e.g. ``Fax to +1 212 555 0110: contract`` or
    ``FAX: 212-555-0110``, or None.

    Conservative: the number must follow the word "fax" (optionally "fax to", "fax no.",
    "fax #", ":") and have 7 to 15 digits; dates, replies ("Re: …", which would refax a
    report) and numbers glued to other text are not taken."""
    if _REPLY_PREFIX.match(subject):
        return None
    match = _SUBJECT_NUMBER.search(subject)
    if match is None:
        return None
    groups: list[str] = []
    for group in match.group("number").split():
        if any(sum(c.isdigit() for c in g) >= 7 for g in groups):
            break  # "2125550110 12 pages": the number was complete
        groups.append(group)
    number = " ".join(groups).rstrip(" (.-/")
    digits = sum(c.isdigit() for c in number)
    if not 7 <= digits <= 15 or _DATE_LIKE.match(number):
        return None
    if number.count("(") != number.count(")"):
        return None
    return number
