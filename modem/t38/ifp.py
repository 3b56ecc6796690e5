"""T.38 IFP packets (ITU-T T.38 clause 7 ASN.1) in ALIGNED PER, hand-written.

The ASN.1, in short::

    IFPPacket ::= SEQUENCE { type-of-msg Type-of-msg, data-field Data-Field OPTIONAL }
    Type-of-msg ::= CHOICE {
        t30-indicator ENUMERATED { no-signal, cng, ced, v21-preamble, ... 16 values, ...,
                                   v8-ansam, v8-signal, v34-..., v33-12000/14400-training },
        t30-data ENUMERATED { v21, v27-2400, ... v17-14400 (9 values), ...,
                              v8, v34-pri-rate, v34-CC-1200, v34-pri-ch, v33-12000, v33-14400 } }
    Data-Field ::= SEQUENCE OF SEQUENCE {
        field-type ENUMERATED { hdlc-data, hdlc-sig-end, hdlc-fcs-OK, hdlc-fcs-BAD,
                                hdlc-fcs-OK-sig-end, hdlc-fcs-BAD-sig-end,
                                t4-non-ecm-data, t4-non-ecm-sig-end
                                -- version >= 1: ..., cm-message, jm-message, ci-message, v34rate
                              },
        field-data OCTET STRING (SIZE (1..65535)) OPTIONAL }

``version`` 0 is the 1998 form, whose field type has no extension marker (3 bits);
later versions have the marker (1 + 3 bits, extensions as a normally small number).
Like spandsp (and every stack built on it), any version other than 0 uses the later
form.  Version 0 encodes only root values of the indicator and data type enumerations
(as spandsp does); decoding accepts their extensions in every version.

The bits follow X.691 exactly: a field without data is 4 (or 5) bits and the next one
starts in the same octet.  Octets in field data are as on the wire (first-transmitted
bit = MSB); callers reverse bits where their own convention differs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeVar

from modem.errors import IfpError


class Indicator(enum.IntEnum):
    """T.38 t30-indicator values (16 root values, then extensions)."""

    NO_SIGNAL = 0
    CNG = 1
    CED = 2
    V21_PREAMBLE = 3
    V27TER_2400_TRAINING = 4
    V27TER_4800_TRAINING = 5
    V29_7200_TRAINING = 6
    V29_9600_TRAINING = 7
    V17_7200_SHORT_TRAINING = 8
    V17_7200_LONG_TRAINING = 9
    V17_9600_SHORT_TRAINING = 10
    V17_9600_LONG_TRAINING = 11
    V17_12000_SHORT_TRAINING = 12
    V17_12000_LONG_TRAINING = 13
    V17_14400_SHORT_TRAINING = 14
    V17_14400_LONG_TRAINING = 15
    V8_ANSAM = 16
    V8_SIGNAL = 17
    V34_CNTL_CHANNEL_1200 = 18
    V34_PRI_CHANNEL = 19
    V34_CC_RETRAIN = 20
    V33_12000_TRAINING = 21
    V33_14400_TRAINING = 22


class DataType(enum.IntEnum):
    """T.38 t30-data values (9 root values, then extensions)."""

    V21 = 0
    V27TER_2400 = 1
    V27TER_4800 = 2
    V29_7200 = 3
    V29_9600 = 4
    V17_7200 = 5
    V17_9600 = 6
    V17_12000 = 7
    V17_14400 = 8
    V8 = 9
    V34_PRI_RATE = 10
    V34_CC_1200 = 11
    V34_PRI_CH = 12
    V33_12000 = 13
    V33_14400 = 14


class FieldType(enum.IntEnum):
    """T.38 field-type values (8 root values; the extensions exist from version 1 on)."""

    HDLC_DATA = 0
    HDLC_SIG_END = 1
    HDLC_FCS_OK = 2
    HDLC_FCS_BAD = 3
    HDLC_FCS_OK_SIG_END = 4
    HDLC_FCS_BAD_SIG_END = 5
    T4_NON_ECM_DATA = 6
    T4_NON_ECM_SIG_END = 7
    CM_MESSAGE = 8
    JM_MESSAGE = 9
    CI_MESSAGE = 10
    V34RATE = 11


@dataclass(frozen=True)
class DataField:
    """One field of a data packet; empty ``data`` means the field carries none."""

    type: FieldType
    data: bytes = b""


@dataclass(frozen=True)
class IfpIndicator:
    indicator: Indicator


@dataclass(frozen=True)
class IfpData:
    data_type: DataType
    fields: tuple[DataField, ...]


Ifp = IfpIndicator | IfpData
_E = TypeVar("_E", bound=enum.IntEnum)

_INDICATOR_ROOT = 16
_DATA_ROOT = 9
_FIELD_ROOT = 8
_MAX_FIELD_DATA = 65535
_MAX_FIELDS = 16383  # a longer SEQUENCE OF would need PER fragmentation


def _check_version(version: int) -> None:
    if version < 0:
        raise ValueError(f"T.38 version must be >= 0, not {version}")


# --- bit writer / reader ------------------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()
        self._acc = 0  # bits of the octet in progress
        self._n = 0  # how many

    def bits(self, value: int, width: int) -> None:
        for i in range(width - 1, -1, -1):
            self._acc = self._acc << 1 | (value >> i & 1)
            self._n += 1
            if self._n == 8:
                self.out.append(self._acc)
                self._acc = self._n = 0

    def align(self) -> None:
        if self._n:
            self.out.append(self._acc << (8 - self._n) & 0xFF)
            self._acc = self._n = 0

    def octets(self, data: bytes) -> None:
        self.align()
        self.out += data


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0  # bit position

    def bits(self, width: int, what: str) -> int:
        if self.pos + width > len(self.data) * 8:
            raise IfpError(f"IFP truncated in {what} ({len(self.data)} octets)")
        value = 0
        for _ in range(width):
            octet = self.data[self.pos >> 3]
            value = value << 1 | (octet >> (7 - (self.pos & 7)) & 1)
            self.pos += 1
        return value

    def align(self) -> None:
        self.pos = (self.pos + 7) & ~7

    def octets(self, count: int, what: str) -> bytes:
        self.align()
        start = self.pos >> 3
        if start + count > len(self.data):
            raise IfpError(f"IFP truncated in {what}: {count} octets announced, "
                           f"{len(self.data) - start} left")
        self.pos += count * 8
        return self.data[start:start + count]

    def finish(self) -> None:
        self.align()
        if self.pos != len(self.data) * 8:
            raise IfpError(f"{len(self.data) - (self.pos >> 3)} octet(s) after the end of the IFP")


# --- PER pieces ---------------------------------------------------------------------------


def _root_width(root: int) -> int:
    return (root - 1).bit_length()


def _put_enum(w: _Writer, value: int, root: int, *, extensible: bool) -> None:
    """An ENUMERATED: [extension bit] then the root index, or a normally small number."""
    if value < root:
        if extensible:
            w.bits(0, 1)
        w.bits(value, _root_width(root))
        return
    if not extensible:
        raise IfpError(f"value {value} is outside a non-extensible enumeration")
    w.bits(1, 1)
    w.bits(0, 1)  # normally small non-negative whole number: <= 63
    w.bits(value - root, 6)


def _get_enum(r: _Reader, root: int, *, extensible: bool, what: str) -> int:
    if extensible and r.bits(1, what):
        if r.bits(1, what):
            raise IfpError(f"{what}: extension number above 63")
        return root + r.bits(6, what)
    return r.bits(_root_width(root), what)


def _put_length(w: _Writer, count: int) -> None:
    """An unconstrained length determinant (octet-aligned), without fragmentation."""
    w.align()
    if count < 0x80:
        w.bits(count, 8)
    elif count <= _MAX_FIELDS:
        w.bits(0x8000 | count, 16)
    else:
        raise IfpError(f"{count} fields in one IFP (at most {_MAX_FIELDS})")


def _get_length(r: _Reader) -> int:
    r.align()
    first = r.bits(8, "the field count")
    if first < 0x80:
        return first
    if first < 0xC0:
        return (first & 0x3F) << 8 | r.bits(8, "the field count")
    raise IfpError("fragmented field count (more than 16383 fields)")


# --- encode / decode ----------------------------------------------------------------------


def encode_ifp(ifp: Ifp, version: int = 0) -> bytes:
    """The aligned-PER octets of ``ifp`` in the form of T.38 ``version``.

    Raises :class:`IfpError` for what the form cannot carry (an extension value in
    version 0, field data longer than 65535 octets).
    """
    _check_version(version)
    w = _Writer()
    if isinstance(ifp, IfpIndicator):
        ind = int(ifp.indicator)
        if version == 0 and ind >= _INDICATOR_ROOT:
            raise IfpError(f"indicator {Indicator(ind).name} is not in T.38 version 0")
        w.bits(0, 1)  # no data-field
        w.bits(0, 1)  # t30-indicator
        _put_enum(w, ind, _INDICATOR_ROOT, extensible=True)
        w.align()
        return bytes(w.out)
    dtype = int(ifp.data_type)
    if version == 0 and dtype >= _DATA_ROOT:
        raise IfpError(f"data type {DataType(dtype).name} is not in T.38 version 0")
    w.bits(1 if ifp.fields else 0, 1)
    w.bits(1, 1)  # t30-data
    _put_enum(w, dtype, _DATA_ROOT, extensible=True)
    if ifp.fields:
        _put_length(w, len(ifp.fields))
        for field in ifp.fields:
            ftype = int(field.type)
            if version == 0 and ftype >= _FIELD_ROOT:
                raise IfpError(f"field type {FieldType(ftype).name} is not in T.38 version 0")
            if len(field.data) > _MAX_FIELD_DATA:
                raise IfpError(f"field data of {len(field.data)} octets (at most {_MAX_FIELD_DATA})")
            w.bits(1 if field.data else 0, 1)
            _put_enum(w, ftype, _FIELD_ROOT, extensible=version != 0)
            if field.data:
                w.align()
                w.bits(len(field.data) - 1, 16)
                w.octets(field.data)
    w.align()
    return bytes(w.out)


def _enum_member(cls: type[_E], value: int, what: str) -> _E:
    try:
        return cls(value)
    except ValueError:
        raise IfpError(f"unknown {what} {value}") from None


def decode_ifp(data: bytes, version: int = 0) -> Ifp:
    """Parse one IFP packet; raises :class:`IfpError` on anything malformed or unknown."""
    _check_version(version)
    if not data:
        raise IfpError("empty IFP")
    r = _Reader(bytes(data))
    has_fields = r.bits(1, "the header")
    if r.bits(1, "the header") == 0:
        ind = _get_enum(r, _INDICATOR_ROOT, extensible=True, what="the indicator")
        indicator = _enum_member(Indicator, ind, "indicator")
        if has_fields:
            raise IfpError(f"indicator {indicator.name} with a data field")
        r.finish()
        return IfpIndicator(indicator)
    dtype = _enum_member(DataType, _get_enum(r, _DATA_ROOT, extensible=True, what="the data type"),
                         "data type")
    fields: list[DataField] = []
    if has_fields:
        count = _get_length(r)
        for i in range(count):
            what = f"field {i + 1} of {count}"
            with_data = r.bits(1, what)
            ftype = _enum_member(FieldType, _get_enum(r, _FIELD_ROOT, extensible=version != 0,
                                                      what=what), "field type")
            payload = b""
            if with_data:
                r.align()
                payload = r.octets(r.bits(16, what) + 1, what)
            fields.append(DataField(ftype, payload))
    r.finish()
    return IfpData(dtype, tuple(fields))


__all__ = [
    "DataField",
    "DataType",
    "FieldType",
    "Ifp",
    "IfpData",
    "IfpIndicator",
    "Indicator",
    "decode_ifp",
    "encode_ifp",
]
