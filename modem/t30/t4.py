"""T.4 bit-stream helpers used in phase C: EOL scanning, fill bits, RTC.

Only the structure of the coded stream is handled (EOL = 11 zeros and a one, with a
tag bit after it in MR); scan lines are not decoded.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from modem.api import Encoding

EOL_ZEROS = 11
RTC_EOLS = 6

Bits = npt.NDArray[np.uint8]


def unpack(data: bytes, *, msb_first: bool) -> Bits:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8),
                         bitorder="big" if msb_first else "little")


def pack(bits: Bits, *, msb_first: bool) -> bytes:
    return np.packbits(bits, bitorder="big" if msb_first else "little").tobytes()


def eol_ends(bits: Bits) -> npt.NDArray[np.intp]:
    """Indices of the final '1' of every EOL (a '1' preceded by at least 11 zeros)."""
    ones = np.flatnonzero(bits)
    if ones.size == 0:
        return ones
    zeros_before = np.empty_like(ones)
    zeros_before[0] = ones[0]
    zeros_before[1:] = np.diff(ones) - 1
    return ones[zeros_before >= EOL_ZEROS]


def _strip_rtc(bits: Bits, ends: npt.NDArray[np.intp], tag: int) -> tuple[Bits, npt.NDArray[np.intp]]:
    """Drop trailing EOLs that enclose nothing (RTC, or EOFB-like tails)."""
    k = len(ends)
    while k >= 2 and ends[k - 1] - ends[k - 2] <= EOL_ZEROS + 1 + tag:
        k -= 1
    if k < len(ends):
        return bits[: ends[k - 1] + 1 + tag], ends[:k]
    return bits, ends


def rtc_bits(encoding: Encoding) -> Bits:
    eol = [0] * EOL_ZEROS + [1]
    if encoding == "mr":
        eol = [*eol, 1]
    return np.array(eol * RTC_EOLS, dtype=np.uint8)


def prepare_non_ecm(data: bytes, encoding: Encoding, min_bits: int) -> bytes:
    """FillOrder=1 page data -> line-order octets (LSB first) with fill and RTC.

    Every coded line (from the end of one EOL to the end of the next) is padded with
    zeros before its EOL to at least ``min_bits`` bits (the minimum scan-line time at the
    chosen rate).  Any RTC already present is replaced by a fresh one.
    """
    if encoding == "mmr":
        raise ValueError("MMR needs ECM")
    tag = 1 if encoding == "mr" else 0
    bits = unpack(data, msb_first=True)
    all_ends = eol_ends(bits)
    bits, ends = _strip_rtc(bits, all_ends, tag)
    if len(ends) < len(all_ends):
        # an RTC was there: its first EOL (which ended the last line) goes too
        bits, ends = bits[: int(ends[-1]) - EOL_ZEROS], ends[:-1]
    pieces: list[Bits] = []
    prev = 0
    zeros = np.zeros(max(min_bits, 1), dtype=np.uint8)
    for e in ends.tolist():
        eol_start = e - EOL_ZEROS
        seg_len = e + 1 + tag - prev
        pieces.append(bits[prev:eol_start])
        if min_bits and prev > 0 and seg_len < min_bits:
            pieces.append(zeros[: min_bits - seg_len])
        pieces.append(bits[eol_start: e + 1 + tag])
        prev = e + 1 + tag
    tail = bits[prev:]
    # the last line is terminated by RTC's first EOL: pad it too
    pieces.append(tail)
    if min_bits and prev > 0 and len(tail) + EOL_ZEROS + 1 + tag < min_bits:
        pieces.append(zeros[: min_bits - len(tail) - EOL_ZEROS - 1 - tag])
    pieces.append(rtc_bits(encoding))
    out = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.uint8)
    return pack(out, msb_first=False)


def count_lines(data: bytes, encoding: Encoding, *, msb_first: bool = True) -> int:
    if encoding == "mmr":
        return 0
    tag = 1 if encoding == "mr" else 0
    bits = unpack(data, msb_first=msb_first)
    ends = eol_ends(bits)
    _, kept = _strip_rtc(bits, ends, tag)
    # with RTC, the last kept EOL terminates the last line instead of starting one
    return len(kept) - (1 if len(kept) < len(ends) else 0)


def parse_non_ecm(wire: bytes, encoding: Encoding) -> tuple[bytes, int, bool]:
    """Received line-order octets -> (FillOrder=1 data, scan lines, RTC seen).

    Bits before the first EOL (training remnants, idle ones) and everything from RTC on
    are dropped; fill bits stay (TIFF readers skip them).
    """
    tag = 1 if encoding == "mr" else 0
    bits = unpack(wire, msb_first=False)
    ends = eol_ends(bits)
    if ends.size == 0:
        return b"", 0, False
    start = int(ends[0]) - EOL_ZEROS
    # find RTC: RTC_EOLS - 2 or more consecutive empty EOLs (tolerate damaged RTC)
    gaps = np.diff(ends)
    empty = gaps <= EOL_ZEROS + 1 + tag
    rtc_at = None
    run = 0
    for i, is_empty in enumerate(empty.tolist()):
        run = run + 1 if is_empty else 0
        if run >= 2:
            rtc_at = i - run + 1  # index into ends of the EOL ending the last line
            break
    if rtc_at is not None:
        stop = int(ends[rtc_at]) - EOL_ZEROS
        lines = rtc_at
    else:
        stop = len(bits)
        lines = int(ends.size)
    page = bits[start:stop]
    pad = (-len(page)) % 8
    if pad:
        page = np.concatenate([page, np.zeros(pad, dtype=np.uint8)])
    return pack(page, msb_first=True), lines, rtc_at is not None
