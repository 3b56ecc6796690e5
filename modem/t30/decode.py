"""T.4 (MH, MR) and T.6 (MMR) decoder: scan lines from a coded page.

Used by the receiving side to judge a page (bad lines -> RTN) and to learn its length
(MMR has no EOLs to count).  Pure Python on a '0'/'1' string; a fine A4 page decodes
in a few hundred milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from modem.api import Encoding


def _codes(text: str) -> list[str]:
    return text.split()


# ITU-T T.4 Tables 2 and 3: terminating codes (runs 0..63) and make-up codes.
_WHITE_TERM = _codes(
    "00110101 000111 0111 1000 1011 1100 1110 1111 10011 10100 00111 01000 001000 000011 "
    "110100 110101 101010 101011 0100111 0001100 0001000 0010111 0000011 0000100 0101000 "
    "0101011 0010011 0100100 0011000 00000010 00000011 00011010 00011011 00010010 00010011 "
    "00010100 00010101 00010110 00010111 00101000 00101001 00101010 00101011 00101100 "
    "00101101 00000100 00000101 00001010 00001011 01010010 01010011 01010100 01010101 "
    "00100100 00100101 01011000 01011001 01011010 01011011 01001010 01001011 00110010 "
    "00110011 00110100"
)
_WHITE_MAKEUP = _codes(
    "11011 10010 010111 0110111 00110110 00110111 01100100 01100101 01101000 01100111 "
    "011001100 011001101 011010010 011010011 011010100 011010101 011010110 011010111 "
    "011011000 011011001 011011010 011011011 010011000 010011001 010011010 011000 010011011"
)
_BLACK_TERM = _codes(
    "0000110111 010 11 10 011 0011 0010 00011 000101 000100 0000100 0000101 0000111 "
    "00000100 00000111 000011000 0000010111 0000011000 0000001000 00001100111 00001101000 "
    "00001101100 00000110111 00000101000 00000010111 00000011000 000011001010 000011001011 "
    "000011001100 000011001101 000001101000 000001101001 000001101010 000001101011 "
    "000011010010 000011010011 000011010100 000011010101 000011010110 000011010111 "
    "000001101100 000001101101 000011011010 000011011011 000001010100 000001010101 "
    "000001010110 000001010111 000001100100 000001100101 000001010010 000001010011 "
    "000000100100 000000110111 000000111000 000000100111 000000101000 000001011000 "
    "000001011001 000000101011 000000101100 000001011010 000001100110 000001100111"
)
_BLACK_MAKEUP = _codes(
    "0000001111 000011001000 000011001001 000001011011 000000110011 000000110100 "
    "000000110101 0000001101100 0000001101101 0000001001010 0000001001011 0000001001100 "
    "0000001001101 0000001110010 0000001110011 0000001110100 0000001110101 0000001110110 "
    "0000001110111 0000001010010 0000001010011 0000001010100 0000001010101 0000001011010 "
    "0000001011011 0000001100100 0000001100101"
)
_EXT_MAKEUP = _codes(
    "00000001000 00000001100 00000001101 000000010010 000000010011 000000010100 "
    "000000010101 000000010110 000000010111 000000011100 000000011101 000000011110 "
    "000000011111"
)

_MAXLEN = 13


def _table(term: list[str], makeup: list[str]) -> dict[str, tuple[int, int]]:
    codes: dict[str, int] = {}
    for run, code in enumerate(term):
        codes[code] = run
    for i, code in enumerate(makeup):
        codes[code] = 64 * (i + 1)
    for i, code in enumerate(_EXT_MAKEUP):
        codes[code] = 1792 + 64 * i
    return {c: (len(c), r) for c, r in codes.items()}


WHITE = _table(_WHITE_TERM, _WHITE_MAKEUP)
BLACK = _table(_BLACK_TERM, _BLACK_MAKEUP)

# 2-D mode codes: name -> code
_MODES = {"P": "0001", "H": "001", "V0": "1", "VR1": "011", "VR2": "000011", "VR3": "0000011",
          "VL1": "010", "VL2": "000010", "VL3": "0000010", "EXT": "0000001",
          "EOL": "000000000001"}
_MODE_OFFSET = {"V0": 0, "VR1": 1, "VR2": 2, "VR3": 3, "VL1": -1, "VL2": -2, "VL3": -3}
_MODE_BY_CODE = {v: k for k, v in _MODES.items()}
EOL = "000000000001"


class _Bad(Exception):  # internal: a line failed to decode
    pass


def _read_run(s: str, pos: int, table: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """One run (make-up codes then a terminating code); returns (run, new pos)."""
    total = 0
    while True:
        for n in range(2, _MAXLEN + 1):
            hit = table.get(s[pos:pos + n])
            if hit is not None and hit[0] == n:
                break
        else:
            raise _Bad("bad run code")
        pos += n
        total += hit[1]
        if hit[1] < 64:
            return total, pos


def _read_mode(s: str, pos: int) -> tuple[str, int]:
    for n in range(1, 13):
        name = _MODE_BY_CODE.get(s[pos:pos + n])
        if name is not None:
            return name, pos + n
    raise _Bad("bad mode code")


def _changes(row: list[int], width: int) -> list[int]:
    """Changing elements of a line given as run lengths (white first)."""
    out = []
    x = 0
    for r in row:
        x += r
        out.append(x)
    return [c for c in out if c < width]


def _decode_1d(s: str, pos: int, width: int) -> tuple[list[int], int]:
    runs: list[int] = []
    x = 0
    white = True
    while x < width:
        run, pos = _read_run(s, pos, WHITE if white else BLACK)
        runs.append(run)
        x += run
        white = not white
    if x != width:
        raise _Bad(f"line length {x}")
    return runs, pos


def _decode_2d(s: str, pos: int, ref: list[int], width: int) -> tuple[list[int], int]:
    """Decode one 2-D line against the reference line's changing elements."""
    refc = [*ref, width, width]
    changes: list[int] = []
    a0 = -1
    white = True  # colour of the run starting at a0
    i = 0  # index into refc
    while a0 < width:
        # b1: first changing element right of a0 with colour opposite to a0's colour.
        # refc[k] with even k turns black (white->black), odd turns white.
        while refc[i] <= a0 and refc[i] < width:
            i += 1
        if (i % 2 == 0) != white:
            i += 1
        b1 = refc[min(i, len(refc) - 1)]
        b2 = refc[min(i + 1, len(refc) - 1)]
        mode, pos = _read_mode(s, pos)
        if mode == "P":
            a0 = b2
        elif mode == "H":
            start = max(a0, 0)
            r1, pos = _read_run(s, pos, WHITE if white else BLACK)
            r2, pos = _read_run(s, pos, BLACK if white else WHITE)
            a1 = start + r1
            a2 = a1 + r2
            if a2 > width:
                raise _Bad("horizontal past the end")
            changes += [a1, a2]
            a0 = a2
        elif mode in _MODE_OFFSET:
            a1 = b1 + _MODE_OFFSET[mode]
            if a1 < max(a0, 0) or a1 > width:
                raise _Bad("vertical out of range")
            changes.append(a1)
            a0 = a1
            white = not white
            if i > 0:
                i -= 1
        else:
            raise _Bad(f"unexpected {mode}")
    changes = [c for c in changes if c < width]
    runs = []
    prev = 0
    for c in changes:
        runs.append(c - prev)
        prev = c
    runs.append(width - prev)
    return runs, pos


@dataclass
class Decoded:
    lines: int = 0
    bad_lines: int = 0
    rows: list[list[int]] = field(default_factory=list)  # run lengths per line (white first)

    def bitmap(self, width: int) -> np.ndarray:
        """Rows as a bool array, True = black (for tests and diagnostics)."""
        out = np.zeros((len(self.rows), width), dtype=bool)
        for y, runs in enumerate(self.rows):
            x = 0
            black = False
            for r in runs:
                if black:
                    out[y, x:x + r] = True
                x += r
                black = not black
        return out


def _bits(data: bytes) -> str:
    return "".join(f"{b:08b}" for b in data) + "0" * 32


def decode_page(data: bytes, encoding: Encoding, width: int = 1728, *,
                keep_rows: bool = False) -> Decoded:
    """Decode FillOrder=1 coded data.  Bad lines are counted (and repeated from the
    previous line, as a receiver would show them); decoding resyncs at the next EOL."""
    s = _bits(data)
    end = len(s) - 32
    out = Decoded()
    white_line = [width]
    prev = white_line
    if encoding == "mmr":
        pos = 0
        while pos < end:
            if s.startswith(EOL + EOL, pos) or s[pos:end].find("1") < 0:
                break  # EOFB or only padding left
            try:
                runs, pos = _decode_2d(s, pos, _changes(prev, width), width)
            except _Bad:
                out.bad_lines += 1
                break  # no resync point in MMR: the rest of the page is lost
            out.lines += 1
            if keep_rows:
                out.rows.append(runs)
            prev = runs
        return out
    pos = s.find(EOL)
    while 0 <= pos < end:
        pos += len(EOL)
        if encoding == "mr":
            tag = s[pos:pos + 1]
            pos += 1
        else:
            tag = "1"
        nxt = s.find(EOL, pos)
        if nxt == pos:  # empty line: RTC or EOFB
            break
        if s[pos:end].find("1") < 0:
            break
        try:
            if tag == "1":
                runs, p2 = _decode_1d(s, pos, width)
            else:
                runs, p2 = _decode_2d(s, pos, _changes(prev, width), width)
            if nxt >= 0 and p2 > nxt:
                raise _Bad("line overruns the next EOL")
            if nxt >= 0 and "1" in s[p2:nxt]:
                raise _Bad("junk after the line")
        except _Bad:
            out.bad_lines += 1
            runs = prev
        out.lines += 1
        if keep_rows:
            out.rows.append(runs)
        prev = runs
        pos = nxt
    return out
