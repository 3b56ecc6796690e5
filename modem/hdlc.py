"""HDLC helpers for T.30: FCS-16, frame build/parse, bit reversal, bit stuffing.

Octet convention: an octet is transmitted least significant bit first (HDLC and the
T.31 DCE interface).  The FCF values below are the octet values, i.e. T.30's bit
strings (written in transmission order) reversed.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

import numpy as np

from modem.errors import HDLCError

ADDRESS = 0xFF
CONTROL = 0x03
CONTROL_FINAL = 0x13
FLAG = 0x7E


def _make_bitrev() -> bytes:
    return bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


BITREV: bytes = _make_bitrev()
"""Translation table reversing the bit order of every octet (use with bytes.translate)."""


def bit_reverse(data: bytes) -> bytes:
    """Reverse the bit order of every octet (FillOrder=1 <-> LSB-first line order)."""
    return data.translate(BITREV)


def _make_crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _make_crc_table()


def fcs16(data: bytes, crc: int = 0xFFFF) -> int:
    """FCS-16 of ISO/IEC 13239 (CRC-CCITT, reflected, init 0xFFFF, final complement)."""
    if crc == 0xFFFF and len(data) > 16:
        # binascii's CRC-CCITT is the unreflected one: feed it the bit-reversed octets
        # and reverse its result (C speed: a 256-octet ECM frame is checked per frame).
        c = binascii.crc_hqx(data.translate(BITREV), 0xFFFF)
        return (BITREV[c & 0xFF] << 8 | BITREV[c >> 8]) ^ 0xFFFF
    for b in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFF


def fcs_bytes(data: bytes) -> bytes:
    """The two FCS octets as transmitted (low octet first)."""
    crc = fcs16(data)
    return bytes((crc & 0xFF, crc >> 8))


def fcs_ok(data_with_fcs: bytes) -> bool:
    """True when the trailing two octets are the right FCS for what precedes them."""
    if len(data_with_fcs) < 3:
        return False
    return fcs16(data_with_fcs) == 0xF0B8 ^ 0xFFFF  # the "good FCS" residue, complemented


# T.30 frame control fields (octet values, X bit clear).
class FCF:
    DIS = 0x80
    CSI = 0x40
    NSF = 0x20
    DTC = 0x80  # | X (DTC is DIS with the X bit set)
    CIG = 0x40
    NSC = 0x20
    DCS = 0x82
    TSI = 0x42
    NSS = 0x22
    CFR = 0x84
    FTT = 0x44
    CTR = 0xC4
    EOM = 0x8E
    MPS = 0x4E
    EOP = 0x2E
    PRI_EOM = 0x9E
    PRI_MPS = 0x5E
    PRI_EOP = 0x3E
    PPS = 0xBE
    EOR = 0xCE
    RR = 0x6E
    CTC = 0x12
    MCF = 0x8C
    RTP = 0xCC
    RTN = 0x4C
    PIP = 0xAC
    PIN = 0x2C
    PPR = 0xBC
    RNR = 0xEC
    ERR = 0x1C
    DCN = 0xFA
    CRP = 0x1A
    FCD = 0x06  # T.4 Annex A facsimile coded data (ECM, high speed)
    RCP = 0x86  # T.4 Annex A return to control for partial page


X_BIT = 0x01
_INITIAL = {FCF.DIS, FCF.CSI, FCF.NSF}

FCF_NAMES: dict[int, str] = {
    v: k for k, v in vars(FCF).items() if isinstance(v, int) and k not in ("DTC", "CIG", "NSC")
}


@dataclass(frozen=True, slots=True)
class Frame:
    """A parsed T.30 HDLC frame (without FCS)."""

    fcf: int  # X bit removed, except for DIS/CSI/NSF vs DTC/CIG/NSC (see ``x``)
    fif: bytes = b""
    final: bool = True
    x: bool = False  # the X bit as received

    @property
    def name(self) -> str:
        if self.x and self.fcf in _INITIAL:
            return {FCF.DIS: "DTC", FCF.CSI: "CIG", FCF.NSF: "NSC"}[self.fcf]
        return FCF_NAMES.get(self.fcf, f"0x{self.fcf:02X}")

    def octets(self) -> bytes:
        """Address, control, FCF (with X bit) and FIF: what a Class 1 DTE sends after +FTH=3."""
        fcf = self.fcf | (X_BIT if self.x else 0)
        return bytes((ADDRESS, CONTROL_FINAL if self.final else CONTROL, fcf)) + self.fif


def build_frame(fcf: int, fif: bytes = b"", *, final: bool = True, x: bool = False) -> bytes:
    return Frame(fcf, fif, final, x).octets()


def parse_frame(octets: bytes) -> Frame:
    """Parse address/control/FCF/FIF (FCS already removed)."""
    if len(octets) < 3:
        raise HDLCError(f"frame too short ({len(octets)} octets)")
    if octets[0] != ADDRESS:
        raise HDLCError(f"bad address 0x{octets[0]:02X}")
    if octets[1] not in (CONTROL, CONTROL_FINAL):
        raise HDLCError(f"bad control 0x{octets[1]:02X}")
    raw = octets[2]
    return Frame(fcf=raw & ~X_BIT & 0xFF, fif=bytes(octets[3:]), final=octets[1] == CONTROL_FINAL,
                 x=bool(raw & X_BIT))


def parse_frame_with_fcs(octets: bytes) -> Frame:
    """Check and strip the two FCS octets, then parse."""
    if not fcs_ok(octets):
        raise HDLCError("bad FCS")
    return parse_frame(octets[:-2])


# --- bit-level HDLC (flags, zero insertion) for ECM frames sent with +FTM / +FRM ---------
#
# The one implementation of HDLC bit stuffing and deframing in the library: the T.30
# engine uses the whole-stream forms (hdlc_encode / hdlc_decode), the simulator's T.38
# bridge the streaming ones (stuffed_bits / flag_bits to frame, HdlcDeframer to deframe).

def _bits_lsb(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")


_FLAG = np.array([0, 1, 1, 1, 1, 1, 1, 0], dtype=np.uint8)


def _runs_of_ones(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start index, length) of every run of ones in a 0/1 array."""
    edges = np.diff(np.concatenate(([0], bits.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return starts, ends - starts


def _stuff(bits: np.ndarray) -> np.ndarray:
    """Zero insertion: a 0 after every fifth consecutive 1 (the count restarts after it)."""
    starts, lengths = _runs_of_ones(bits)
    long = lengths >= 5
    if not long.any():
        return bits
    # a run of L ones gets L // 5 zeros, after its 5th, 10th, ... one
    counts = lengths[long] // 5
    base = np.repeat(starts[long], counts)
    k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    return np.insert(bits, base + 5 * k, 0)


def stuffed_bits(octets: bytes) -> np.ndarray:
    """``octets`` as line bits (0/1, first sent first, LSB of each octet first), zero
    inserted after every five ones: the body of a frame between flags."""
    return _stuff(_bits_lsb(octets))


def flag_bits(count: int = 1) -> np.ndarray:
    """``count`` HDLC flags (01111110) as line bits."""
    return np.tile(_FLAG, count)


def hdlc_encode(frames: list[bytes], *, preamble_flags: int = 1, postamble_flags: int = 2,
                flags_between: int = 1) -> bytes:
    """Frame octets -> a line bit stream (flags, FCS, zero insertion), packed LSB first.

    The result is what a Class 1 DTE sends after ``+FTM`` for ECM at high speed.
    """
    parts: list[np.ndarray] = [flag_bits(preamble_flags)]
    between = flag_bits(flags_between)
    for i, frame in enumerate(frames):
        if i:
            parts.append(between)
        parts.append(stuffed_bits(frame + fcs_bytes(frame)))
    parts.append(flag_bits(postamble_flags))
    out = np.concatenate(parts)
    pad = (-len(out)) % 8
    if pad:
        out = np.concatenate((out, _FLAG[:pad]))
    return np.packbits(out, bitorder="little").tobytes()


def _deframe(bits: np.ndarray, open_at: int | None) -> tuple[list[bytes | None], int]:
    """The frames between flags in ``bits``: their octets (FCS included), or ``None`` for
    one that is not a whole number of octets; and the index of the last flag's closing 0
    (-1 if no flag ended in ``bits``).

    ``open_at``: the index of a flag's closing 0 a frame starts after (``None``: none,
    the first flag opens one).  A run of seven or more ones aborts the frame in progress;
    bodies of fewer than 32 bits (address, control, FCS) are skipped.
    """
    if not len(bits):
        return [], -1
    starts, lengths = _runs_of_ones(bits)
    after = starts + lengths  # the zero (if any) that ends each run
    inside = after < len(bits)
    flag_ends = after[inside & (lengths == 6)]  # the closing 0 of each flag
    stuffed = after[inside & (lengths == 5)]  # inserted zeros, to drop
    aborts = starts[lengths >= 7]
    keep = np.ones(len(bits), dtype=bool)
    keep[stuffed] = False
    frames: list[bytes | None] = []
    prev = open_at
    for end in flag_ends.tolist():
        if prev is not None:
            lo, hi = prev + 1, end - 7  # between the last flag and this one's opening 0
            aborted = bool(np.any((aborts >= lo) & (aborts < end)))
            if not aborted and hi > lo:
                body = bits[lo:hi][keep[lo:hi]]
                if len(body) >= 32:
                    if len(body) % 8:
                        frames.append(None)
                    else:
                        frames.append(np.packbits(body, bitorder="little").tobytes())
        prev = end
    return frames, (flag_ends[-1].item() if len(flag_ends) else -1)


def hdlc_decode(stream: bytes) -> list[bytes | None]:
    """Line bit stream (LSB first) -> frames with FCS checked and stripped.

    Frames with a bad FCS (or not a whole number of octets) come back as ``None`` so the
    caller can count them; runs of flags and idle ones are skipped.  A run of seven or
    more ones aborts the frame in progress (nothing is delivered until the next flag).
    """
    frames, _ = _deframe(_bits_lsb(stream), None)
    return [None if f is None or not fcs_ok(f) else f[:-2] for f in frames]


def _make_flag_scan() -> tuple[tuple[tuple[bool, int], ...], ...]:
    """[ones before (0..7)][octet] -> (a flag's closing 0 is in the octet, ones after it)."""
    table = []
    for ones_in in range(8):
        row = []
        for octet in range(256):
            ones, flag = ones_in, False
            for j in range(8):
                if octet >> j & 1:
                    ones = min(ones + 1, 7)
                else:
                    flag = flag or ones == 6
                    ones = 0
            row.append((flag, ones))
        table.append(tuple(row))
    return tuple(table)


_FLAG_SCAN = _make_flag_scan()


class HdlcDeframer:
    """:func:`hdlc_decode` for a bit stream that arrives in pieces.

    :meth:`feed` returns the frames completed so far as ``(octets without FCS, FCS
    good)``; frames that are not a whole number of octets are left out.  A frame still
    open after ``max_octets`` (no closing flag) is dropped as a runaway, as a receiver
    would, and the stream is searched for the next flag.

    Pieces are short (a Class 1 modem passes ~50 ms of line at a time), so the bits since
    the last flag are deframed only when a piece ends a flag, found by a table lookup per
    octet with the run of ones at the end of the stream carried over.
    """

    def __init__(self, max_octets: int = 1100) -> None:
        self._max_bits = max_octets * 8 * 6 // 5 + 16  # stuffed at worst, plus a flag
        self._pieces: list[np.ndarray] = []  # bits not yet part of a finished frame
        self._held = 0  # how many bits _pieces hold
        self._open = False  # _pieces start with the closing 0 of the flag a frame follows
        self._ones = 0  # ones at the end of the stream so far (7: seven or more)

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        new = _bits_lsb(data)
        if not len(new):
            return []
        self._pieces.append(new)
        self._held += len(new)
        # does a flag end in this piece? (one table step per octet; most pieces hold none)
        flag_here, ones, scan = False, self._ones, _FLAG_SCAN
        for octet in data:
            flag, ones = scan[ones][octet]
            flag_here = flag_here or flag
        self._ones = ones
        frames: list[bytes | None] = []
        if flag_here:
            bits = np.concatenate(self._pieces)
            frames, last = _deframe(bits, 0 if self._open else None)
            if last >= 0:
                self._pieces, self._held, self._open = [bits[last:]], len(bits) - last, True
        if self._held > self._max_bits:
            # runaway: give up the open frame; 8 bits are enough to find the next flag
            # (they hold the zero before a run of up to 7 ones, or a run of 8 = abort)
            tail = np.concatenate(self._pieces)[-8:]
            self._pieces, self._held, self._open = [tail], len(tail), False
        return [(f[:-2], fcs_ok(f)) for f in frames if f is not None]
