"""TEST HELPER: a small PWG Raster / Apple raster (URF) encoder.

The real documents of the tests come from CUPS's own filters (``cupsfilter``, see
``test_print_raster.py``); this encoder makes the cases no filter writes: every colour
space and depth on exact pixels, and hostile files (bad headers, runs past the line,
line repeats past the page).  It codes lines the way CUPS's writer does: a line repeat
byte for identical lines, then runs of equal pixels (0-127: n + 1 repeats) and literal
stretches (129-255: 257 - n pixels).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PWG_SPACE = {"sgray": 18, "black": 3, "srgb": 19, "rgb": 1, "cmyk": 6, "w": 0}
URF_SPACE = {"sgray": 0, "srgb": 1, "cielab": 2, "adobe-rgb": 3, "w": 4, "rgb": 5, "cmyk": 6}


@dataclass
class Page:
    """Pixels as the file carries them: (height, bytes per line) uint8, already packed
    (1-bit rows packed MSB first, 16-bit samples big-endian, colours interleaved)."""

    lines: npt.NDArray[np.uint8]
    width: int
    bits_per_color: int
    channels: int
    space: str = "sgray"
    dpi: int = 300
    y_dpi: int | None = None


def gray_page(gray: npt.NDArray[np.uint8], dpi: int = 300, space: str = "sgray") -> Page:
    return Page(np.ascontiguousarray(gray, dtype=np.uint8), gray.shape[1], 8, 1, space, dpi)


def code_line(line: bytes, unit: int) -> bytes:
    """One line's packets (``unit``: bytes per pixel, 1 for 1-bit rows)."""
    pixels = [line[i:i + unit] for i in range(0, len(line), unit)]
    out = bytearray()
    i = 0
    while i < len(pixels):
        run = 1
        while i + run < len(pixels) and run < 128 and pixels[i + run] == pixels[i]:
            run += 1
        if run > 1:
            out.append(run - 1)
            out += pixels[i]
            i += run
            continue
        start = i
        while (i < len(pixels) and i - start < 128 and
               (i + 1 >= len(pixels) or pixels[i + 1] != pixels[i])):
            i += 1
        count = i - start
        if count == 1:
            out.append(0)  # one pixel: a run of one
        else:
            out.append(257 - count)
        out += b"".join(pixels[start:i])
    return bytes(out)


def code_page(lines: npt.NDArray[np.uint8], unit: int) -> bytes:
    out = bytearray()
    row = 0
    while row < lines.shape[0]:
        repeat = 1
        while (row + repeat < lines.shape[0] and repeat < 256 and
               np.array_equal(lines[row + repeat], lines[row])):
            repeat += 1
        out.append(repeat - 1)
        out += code_line(lines[row].tobytes(), unit)
        row += repeat
    return bytes(out)


def pwg_header(page: Page, height: int | None = None, *, width: int | None = None,
               bytes_per_line: int | None = None, space: int | None = None,
               feed_transform: int = 1) -> bytes:
    """A 1796-byte PWG page header (only the fields umfax reads are set)."""
    raw = bytearray(1796)
    raw[0:9] = b"PwgRaster"
    w = page.width if width is None else width
    h = page.lines.shape[0] if height is None else height
    bpp = page.bits_per_color * page.channels
    y_dpi = page.y_dpi or page.dpi

    def put(offset: int, value: int) -> None:
        raw[offset:offset + 4] = struct.pack(">I", value & 0xFFFFFFFF)

    put(276, page.dpi)
    put(280, y_dpi)
    put(352, round(w * 72 / page.dpi))
    put(356, round(h * 72 / y_dpi))
    put(372, w)
    put(376, h)
    put(384, page.bits_per_color)
    put(388, bpp)
    put(392, (w * bpp + 7) // 8 if bytes_per_line is None else bytes_per_line)
    put(400, PWG_SPACE[page.space] if space is None else space)
    put(420, page.channels)
    put(456, 1)
    put(460, feed_transform)
    return bytes(raw)


def pwg(pages: list[Page]) -> bytes:
    out = bytearray(b"RaS2")
    for page in pages:
        out += pwg_header(page)
        out += code_page(page.lines, max(1, page.bits_per_color * page.channels // 8))
    return bytes(out)


def urf_header(page: Page, *, width: int | None = None, height: int | None = None,
               space: str | None = None, dpi: int | None = None) -> bytes:
    raw = bytearray(32)
    raw[0] = page.bits_per_color * page.channels
    raw[1] = URF_SPACE[space or page.space]
    raw[3] = 4  # quality: normal
    raw[12:24] = struct.pack(">III", page.width if width is None else width,
                             page.lines.shape[0] if height is None else height,
                             page.dpi if dpi is None else dpi)
    return bytes(raw)


def urf(pages: list[Page], claimed_pages: int | None = None) -> bytes:
    out = bytearray(b"UNIRAST\x00")
    out += struct.pack(">I", len(pages) if claimed_pages is None else claimed_pages)
    for page in pages:
        out += urf_header(page)
        out += code_page(page.lines, max(1, page.bits_per_color * page.channels // 8))
    return bytes(out)
