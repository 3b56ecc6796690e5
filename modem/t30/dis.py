"""DIS/DTC and DCS facsimile information fields (ITU-T T.30 Table 2).

Bit ``n`` of the FIF (1-based, as numbered in T.30) is bit ``(n-1) % 8`` (LSB = first
transmitted) of octet ``(n-1) // 8``.
"""

from __future__ import annotations

from dataclasses import dataclass

from modem.api import Encoding

# (bit_rate, modem family) in order of preference, fastest first.
RATE_LADDER: tuple[tuple[int, str], ...] = (
    (14400, "v17"),
    (12000, "v17"),
    (9600, "v17"),
    (9600, "v29"),
    (7200, "v17"),
    (7200, "v29"),
    (4800, "v27"),
    (2400, "v27"),
)

# T.31 Table 1 modulation codes: (family, rate) -> (long-train code, short-train code)
_T31_CODES: dict[tuple[str, int], tuple[int, int]] = {
    ("v27", 2400): (24, 24),
    ("v27", 4800): (48, 48),
    ("v29", 7200): (72, 72),
    ("v29", 9600): (96, 96),
    ("v17", 7200): (73, 74),
    ("v17", 9600): (97, 98),
    ("v17", 12000): (121, 122),
    ("v17", 14400): (145, 146),
}

# DCS bits 11..14 (as a 4-bit value with bit 11 in the LSB) <-> (rate, family)
_DCS_RATE: dict[int, tuple[int, str]] = {
    0b0000: (2400, "v27"),
    0b0010: (4800, "v27"),
    0b0001: (9600, "v29"),
    0b0011: (7200, "v29"),
    0b1000: (14400, "v17"),
    0b1010: (12000, "v17"),
    0b1001: (9600, "v17"),
    0b1011: (7200, "v17"),
}
_DCS_RATE_INV = {v: k for k, v in _DCS_RATE.items()}

# DIS bits 11..14 -> modem families
_DIS_MODEMS: dict[int, frozenset[str]] = {
    0b0000: frozenset({"v27fb"}),
    0b0010: frozenset({"v27"}),
    0b0001: frozenset({"v29"}),
    0b0011: frozenset({"v27", "v29"}),
    0b1011: frozenset({"v27", "v29", "v17"}),
}

# bits 21..23 (bit 21 in LSB) -> (ms at standard resolution, halved for fine?)
_DIS_SCAN: dict[int, tuple[int, bool]] = {
    0b000: (20, False),
    0b100: (40, False),
    0b010: (10, False),
    0b001: (5, False),
    0b110: (10, True),
    0b011: (20, True),
    0b101: (40, True),
    0b111: (0, False),
}
_DCS_SCAN: dict[int, int] = {0b000: 20, 0b100: 40, 0b010: 10, 0b001: 5, 0b111: 0}
_DCS_SCAN_INV = {v: k for k, v in _DCS_SCAN.items()}

WIDTHS = (1728, 2048, 2432)
Y_RES_STANDARD = 98.0
Y_RES_FINE = 196.0
Y_RES_SUPERFINE = 391.0


def modulation_code(family: str, rate: int, *, short_train: bool = False) -> int:
    """T.31 +FTM/+FRM code for a modem family and rate."""
    long_code, short_code = _T31_CODES[(family, rate)]
    return short_code if short_train else long_code


class _Bits:
    def __init__(self, data: bytes = b"", size: int = 0) -> None:
        self.b = bytearray(data) + bytearray(max(0, size - len(data)))

    def get(self, n: int) -> int:
        i = (n - 1) // 8
        return (self.b[i] >> ((n - 1) % 8)) & 1 if i < len(self.b) else 0

    def set(self, n: int, v: int | bool = 1) -> None:
        i = (n - 1) // 8
        while i >= len(self.b):
            self.b.append(0)
        if v:
            self.b[i] |= 1 << ((n - 1) % 8)
        else:
            self.b[i] &= ~(1 << ((n - 1) % 8)) & 0xFF

    def field(self, first: int, count: int) -> int:
        return sum(self.get(first + k) << k for k in range(count))

    def set_field(self, first: int, count: int, value: int) -> None:
        for k in range(count):
            self.set(first + k, (value >> k) & 1)

    def finish(self) -> bytes:
        """Set extension bits (24, 32, 40, ...) so every octet up to the last used one is sent."""
        last = len(self.b)
        while last > 3 and self.b[last - 1] == 0:
            last -= 1
        out = self.b[:max(last, 3)]
        for octet in range(3, len(out)):
            # octet index 3 is bits 25..32; its presence is flagged by bit 24 (octet 2, bit 7)
            out[octet - 1] |= 0x80
        return bytes(out)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a DIS (or DTC) offers."""

    modems: frozenset[str] = frozenset({"v27", "v29", "v17"})
    fine: bool = True
    superfine: bool = False
    mr: bool = True
    mmr: bool = True
    ecm: bool = True
    max_width: int = 1728
    length: str = "unlimited"  # "a4", "b4", "unlimited"
    min_scan_ms: int = 0  # at standard resolution
    scan_half_fine: bool = False  # T7.7 = T3.85/2
    receive: bool = True  # bit 10: ready to receive
    transmit: bool = False  # bit 9: has a document to send (polling)

    def rates(self) -> list[tuple[int, str]]:
        out = []
        for rate, fam in RATE_LADDER:
            if fam in self.modems or (fam == "v27" and rate == 2400 and "v27fb" in self.modems):
                out.append((rate, fam))
        return out

    def scan_ms(self, y_res: float) -> int:
        if y_res >= Y_RES_FINE and self.scan_half_fine:
            return self.min_scan_ms // 2
        return self.min_scan_ms

    def encode(self) -> bytes:
        b = _Bits(size=3)
        b.set(9, self.transmit)
        b.set(10, self.receive)
        mods = self.modems
        if "v17" in mods:
            code = 0b1011
        elif "v29" in mods and "v27" in mods:
            code = 0b0011
        elif "v29" in mods:
            code = 0b0001
        elif "v27" in mods:
            code = 0b0010
        else:
            code = 0b0000
        b.set_field(11, 4, code)
        b.set(15, self.fine)
        b.set(16, self.mr)
        b.set_field(17, 2, {1728: 0b00, 2048: 0b01, 2432: 0b10}.get(self.max_width, 0))
        b.set_field(19, 2, {"a4": 0b00, "b4": 0b01, "unlimited": 0b10}[self.length])
        scan = next(k for k, v in _DIS_SCAN.items() if v == (self.min_scan_ms, self.scan_half_fine))
        b.set_field(21, 3, scan)
        b.set(27, self.ecm)
        b.set(31, self.mmr and self.ecm)
        if self.superfine:
            b.set(41, 1)
            b.set(46, self.scan_half_fine)
        return b.finish()

    @classmethod
    def decode(cls, fif: bytes) -> Capabilities:
        b = _Bits(fif)
        modems = _DIS_MODEMS.get(b.field(11, 4), frozenset({"v27", "v29"}))
        width = {0b00: 1728, 0b01: 2048, 0b10: 2432, 0b11: 2432}[b.field(17, 2)]
        length = {0b00: "a4", 0b01: "b4", 0b10: "unlimited", 0b11: "a4"}[b.field(19, 2)]
        scan_ms, half = _DIS_SCAN[b.field(21, 3)]
        ext1 = b.get(24)
        ecm = bool(ext1 and b.get(27))
        mmr = bool(ext1 and b.get(31)) and ecm
        superfine = bool(ext1 and b.get(32) and b.get(40) and b.get(41))
        return cls(modems=modems, fine=bool(b.get(15)), superfine=superfine, mr=bool(b.get(16)),
                   mmr=mmr, ecm=ecm, max_width=width, length=length, min_scan_ms=scan_ms,
                   scan_half_fine=half, receive=bool(b.get(10)), transmit=bool(b.get(9)))


@dataclass(frozen=True, slots=True)
class Params:
    """What a DCS selects."""

    bit_rate: int = 9600
    modem: str = "v29"
    y_res: float = Y_RES_FINE
    encoding: Encoding = "mh"
    ecm: bool = False
    ecm_frame_size: int = 256
    width: int = 1728
    length: str = "unlimited"
    min_scan_ms: int = 0  # at the selected resolution

    def modulation(self, *, short_train: bool = False) -> int:
        return modulation_code(self.modem, self.bit_rate, short_train=short_train)

    def min_scan_bits(self) -> int:
        return self.bit_rate * self.min_scan_ms // 1000

    def tcf_octets(self) -> int:
        return self.bit_rate * 3 // 16  # 1.5 s

    def encode(self) -> bytes:
        b = _Bits(size=3)
        b.set(10, 1)
        b.set_field(11, 4, _DCS_RATE_INV[(self.bit_rate, self.modem)])
        b.set(15, self.y_res >= Y_RES_FINE and self.y_res < Y_RES_SUPERFINE)
        b.set(16, self.encoding == "mr")
        b.set_field(17, 2, {1728: 0b00, 2048: 0b01, 2432: 0b10}[self.width])
        b.set_field(19, 2, {"a4": 0b00, "b4": 0b01, "unlimited": 0b10}[self.length])
        b.set_field(21, 3, _DCS_SCAN_INV.get(self.min_scan_ms, 0b000))
        b.set(27, self.ecm)
        b.set(28, self.ecm and self.ecm_frame_size == 64)
        b.set(31, self.encoding == "mmr")
        if self.y_res >= Y_RES_SUPERFINE:
            b.set(41, 1)
        return b.finish()

    @classmethod
    def decode(cls, fif: bytes) -> Params:
        b = _Bits(fif)
        rate, fam = _DCS_RATE.get(b.field(11, 4), (2400, "v27"))
        ext1 = b.get(24)
        ecm = bool(ext1 and b.get(27))
        if ext1 and b.get(31):
            enc: Encoding = "mmr"
        elif b.get(16):
            enc = "mr"
        else:
            enc = "mh"
        if ext1 and b.get(32) and b.get(40) and b.get(41):
            y_res = Y_RES_SUPERFINE
        elif b.get(15):
            y_res = Y_RES_FINE
        else:
            y_res = Y_RES_STANDARD
        width = {0b00: 1728, 0b01: 2048, 0b10: 2432, 0b11: 1728}[b.field(17, 2)]
        length = {0b00: "a4", 0b01: "b4", 0b10: "unlimited", 0b11: "a4"}[b.field(19, 2)]
        return cls(bit_rate=rate, modem=fam, y_res=y_res, encoding=enc, ecm=ecm,
                   ecm_frame_size=64 if ecm and b.get(28) else 256, width=width, length=length,
                   min_scan_ms=_DCS_SCAN.get(b.field(21, 3), 20))

    def with_rate(self, rate: int, modem: str) -> Params:
        return Params(rate, modem, self.y_res, self.encoding, self.ecm, self.ecm_frame_size,
                      self.width, self.length, self.min_scan_ms)


@dataclass(frozen=True, slots=True)
class NonStandard:
    """An NSF/NSS/NSC FIF split per T.35: country code, then the provider's octets."""

    country: int  # T.35 country code (0xFF: the next octet extends it)
    country_ext: int | None
    provider: bytes  # terminal provider code and the facilities (vendor defined)


def decode_nsf(fif: bytes) -> NonStandard | None:
    """Split a non-standard facilities FIF; None when it is too short to be one."""
    if not fif:
        return None
    if fif[0] == 0xFF:
        if len(fif) < 2:
            return None
        return NonStandard(0xFF, fif[1], fif[2:])
    return NonStandard(fif[0], None, fif[1:])


def encode_id(text: str) -> bytes:
    """TSI/CSI FIF: 20 characters, space padded, sent last character first."""
    clean = "".join(c for c in text if c.isdigit() or c in " +")[:20]
    return clean.ljust(20).encode("ascii")[::-1]


def decode_id(fif: bytes) -> str:
    return fif[::-1].decode("ascii", "replace").strip()
