"""CMS (RFC 5652), just enough to unwrap S/MIME SignedData: the content type of a
ContentInfo and the encapsulated content of SignedData.

A small BER reader (DER is BER; Outlook writes indefinite lengths), bounded in nesting
depth.  Signatures are not verified: whether mail is genuine is decided from
Authentication-Results (see :mod:`umfax.mail.authorize`).  Sans-IO: pure functions of
the bytes; what is not CMS raises :class:`BerError` (a :class:`ValueError`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "OID_AUTH_ENVELOPED_DATA",
    "OID_COMPRESSED_DATA",
    "OID_DATA",
    "OID_ENVELOPED_DATA",
    "OID_SIGNED_DATA",
    "BerError",
    "cms_content_type",
    "cms_signed_content",
]

OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
OID_AUTH_ENVELOPED_DATA = "1.2.840.113549.1.9.16.1.23"
OID_COMPRESSED_DATA = "1.2.840.113549.1.9.16.1.9"


class BerError(ValueError):
    """Bytes that are not the BER (or not the CMS structure) expected."""


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
        raise BerError("nested too deeply")
    if pos + 2 > len(data):
        raise BerError("truncated")
    first = data[pos]
    tag_class, constructed, number = first >> 6, bool(first & 0x20), first & 0x1F
    pos += 1
    if number == 0x1F:
        number = 0
        while True:
            if pos >= len(data) or number > 1 << 28:
                raise BerError("bad tag")
            byte = data[pos]
            pos += 1
            number = (number << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
    if pos >= len(data):
        raise BerError("truncated")
    length_byte = data[pos]
    pos += 1
    if length_byte == 0x80:  # indefinite: children up to the end-of-contents octets
        if not constructed:
            raise BerError("indefinite primitive")
        start = pos
        while True:
            if data[pos : pos + 2] == b"\x00\x00":
                return _Tlv(tag_class, constructed, number, data[start:pos], pos + 2)
            pos = _read_tlv(data, pos, depth + 1).end
    if length_byte & 0x80:
        count = length_byte & 0x7F
        if count > 4 or pos + count > len(data):
            raise BerError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = length_byte
    if pos + length > len(data):
        raise BerError("truncated")
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
        raise BerError("not an OID")
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
        raise BerError("not an OCTET STRING")
    if not tlv.constructed:
        return tlv.content
    if depth > 50:
        raise BerError("nested too deeply")
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
        raise BerError("not SignedData")
    explicit = fields[1]  # content [0] EXPLICIT
    signed = _children(explicit)[0]
    parts = _children(signed)  # version, digestAlgorithms, encapContentInfo, …
    if len(parts) < 3:
        raise BerError("short SignedData")
    encap = _children(parts[2])
    if len(encap) < 2:
        return None
    wrapped = _children(encap[1])  # eContent [0] EXPLICIT OCTET STRING
    if not wrapped:
        return None
    return _octets(wrapped[0])
