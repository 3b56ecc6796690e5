"""The raster formats print clients send: PWG Raster and Apple raster (URF).

PWG Raster (PWG 5102.4, ``image/pwg-raster``) is the "RaS2" sync word, then per page a
1796-byte header (CUPS's ``cups_page_header2_t``, big-endian) and the page's lines;
Apple raster (``image/urf``) is "UNIRAST\\0" and a page count, then per page a 32-byte
header and its lines.  Both code lines the same way: a line repeat byte (the line
occurs n + 1 times), then packets until the line is full: 0-127 is one pixel repeated
n + 1 times, 129-255 is 257 - n literal pixels, and 128 fills the rest of the line with
white (CUPS's reader, raster-stream.c, is the reference).

Nothing here trusts a header: dimensions, resolutions and depths are checked against
limits before any line is read, every packet must stay inside its line, every line
repeat inside its page, and every byte must be there.  A document is walked once to
find its pages (:func:`scan`: offsets and headers only, no pixels) and then decoded one
page at a time (:func:`decode_page`), so memory holds one page, never the document.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from umfax.conversion.errors import BrokenDocument, DocumentTooLarge, UnsupportedDocument
from umfax.conversion.raster import Gray

PWG_SYNC = b"RaS2"
URF_SYNC = b"UNIRAST\x00"
PWG_HEADER_BYTES = 1796
URF_FILE_HEADER_BYTES = 12
URF_HEADER_BYTES = 32

MIN_DPI = 50
MAX_DPI = 2400
MAX_PAGE_INCHES = 200.0
"""The largest page side accepted, as for PDF (200 in is PDF's own limit)."""

Inks = Literal["gray", "black", "rgb", "cmyk"]
"""How samples map to tone: ``gray`` and ``rgb`` are light (255 white), ``black`` and
``cmyk`` are ink (0 white)."""

_PWG_SPACES: dict[int, Inks] = {0: "gray", 18: "gray", 3: "black", 1: "rgb", 19: "rgb",
                                20: "rgb", 6: "cmyk"}
"""cupsColorSpace values decoded: W, sGray, K, RGB, sRGB, AdobeRGB, CMYK."""
_URF_BLACK = 256
"""Not a URF code: 1-bit grey pages read as black ink (see :func:`_urf_pages`)."""
_URF_SPACES: dict[int, Inks] = {0: "gray", 1: "rgb", 3: "rgb", 4: "gray", 5: "rgb", 6: "cmyk",
                                _URF_BLACK: "black"}
"""URF colour space codes decoded: sGray, sRGB, AdobeRGB, W, RGB, CMYK (2, CIELab, is not)."""
_CHANNELS: dict[Inks, int] = {"gray": 1, "black": 1, "rgb": 3, "cmyk": 4}
_DEPTHS: dict[Inks, tuple[int, ...]] = {"gray": (1, 8, 16), "black": (1, 8, 16),
                                        "rgb": (8, 16), "cmyk": (8, 16)}


@dataclass(frozen=True)
class RasterPage:
    """One page of a raster document: its header's facts and where its lines are."""

    number: int
    """1-based."""
    width: int
    height: int
    x_dpi: int
    y_dpi: int
    inks: Inks
    bits_per_color: int
    bytes_per_line: int
    data_start: int
    data_end: int
    mirror_across: bool = False
    """PWG CrossFeedTransform -1: a duplex back side sent mirrored left to right."""
    mirror_down: bool = False
    """PWG FeedTransform -1: a duplex back side sent upside down."""

    @property
    def bytes_per_pixel(self) -> int:
        """The unit packets count in (a byte of 8 pixels at 1 bit)."""
        return max(1, self.bits_per_color * _CHANNELS[self.inks] // 8)

    @property
    def width_inches(self) -> float:
        return self.width / self.x_dpi

    @property
    def height_inches(self) -> float:
        return self.height / self.y_dpi


@dataclass(frozen=True)
class RasterDocument:
    """A scanned raster document: its format's name (for messages) and its pages."""

    name: str
    format_name: str
    content: bytes
    pages: tuple[RasterPage, ...]


def raster_kind(content: bytes) -> str | None:
    """"pwg-raster" or "urf" when ``content`` starts with the format's sync word."""
    if content[:4] == PWG_SYNC:
        return "pwg-raster"
    if content[:8] == URF_SYNC:
        return "urf"
    return None


@dataclass(frozen=True)
class _Header:
    width: int
    height: int
    x_dpi: int
    y_dpi: int
    space: int
    bits_per_color: int
    bits_per_pixel: int
    bytes_per_line: int
    mirror_across: bool = False
    mirror_down: bool = False


class _Reader:
    """Format-specific header parsing and the shared checks, naming the page in errors."""

    def __init__(self, name: str, format_name: str, max_pixels: int, max_pages: int) -> None:
        self.name = name
        self.format_name = format_name
        self.max_pixels = max_pixels
        self.max_pages = max_pages

    def where(self, number: int) -> str:
        return f"page {number} of {self.name} ({self.format_name})"

    def truncated(self, number: int, what: str) -> BrokenDocument:
        return BrokenDocument(f"{self.where(number)} is cut short: the file ends inside "
                              f"{what}; print the document again")

    def page(self, number: int, header: _Header, spaces: dict[int, Inks], start: int,
             content: bytes) -> RasterPage:
        where = self.where(number)
        w, h = header.width, header.height
        if w <= 0 or h <= 0:
            raise BrokenDocument(f"{where} claims {w} x {h} pixels, an empty page; "
                                 "print the document again")
        if w * h > self.max_pixels:
            raise DocumentTooLarge(
                f"{where} claims {w} x {h} pixels, more than the limit of "
                f"{self.max_pixels:,} per page; print at a lower resolution "
                "(300 dpi is plenty for fax)")
        if not (MIN_DPI <= header.x_dpi <= MAX_DPI and MIN_DPI <= header.y_dpi <= MAX_DPI):
            raise BrokenDocument(f"{where} claims a resolution of {header.x_dpi} x "
                                 f"{header.y_dpi} dpi; {MIN_DPI} to {MAX_DPI} is accepted")
        if w / header.x_dpi > MAX_PAGE_INCHES or h / header.y_dpi > MAX_PAGE_INCHES:
            raise DocumentTooLarge(f"{where} claims a page of {w / header.x_dpi:.0f} x "
                                   f"{h / header.y_dpi:.0f} inches; "
                                   f"{MAX_PAGE_INCHES:.0f} inches a side is the most")
        inks = spaces.get(header.space)
        if inks is None:
            raise UnsupportedDocument(
                f"{where} uses colour space {header.space}, which umfax cannot fax; "
                "print in grey or colour (sGray or sRGB)")
        bits, channels = header.bits_per_color, _CHANNELS[inks]
        if bits not in _DEPTHS[inks] or header.bits_per_pixel != bits * channels:
            raise UnsupportedDocument(
                f"{where} has {header.bits_per_pixel} bits per pixel of {bits} per colour, "
                "which umfax cannot fax; print with 1 or 8 bits per colour")
        if header.bytes_per_line != (w * header.bits_per_pixel + 7) // 8:
            raise BrokenDocument(f"{where} claims {header.bytes_per_line} bytes per line "
                                 f"for {w} pixels of {header.bits_per_pixel} bits; the "
                                 "header is damaged")
        page = RasterPage(number, w, h, header.x_dpi, header.y_dpi, inks, bits,
                          header.bytes_per_line, start, start,
                          header.mirror_across, header.mirror_down)
        return replace(page, data_end=_walk_lines(self, page, content, None))

    def too_many(self, count: int) -> DocumentTooLarge:
        return DocumentTooLarge(
            f"{self.name} ({self.format_name}) has {count:,} pages or more, more than the "
            f"limit of {self.max_pages:,} per fax; split it into smaller faxes")


def _pwg_header(raw: bytes) -> _Header:
    u32 = struct.unpack(">81I", raw[256:256 + 81 * 4])

    def field(offset: int) -> int:
        return int(u32[(offset - 256) // 4])

    return _Header(width=field(372), height=field(376), x_dpi=field(276), y_dpi=field(280),
                   space=field(400), bits_per_color=field(384), bits_per_pixel=field(388),
                   bytes_per_line=field(392), mirror_across=field(456) == 0xFFFFFFFF,
                   mirror_down=field(460) == 0xFFFFFFFF)


def _pwg_pages(reader: _Reader, content: bytes) -> list[RasterPage]:
    pages: list[RasterPage] = []
    pos = len(PWG_SYNC)
    while pos < len(content):
        number = len(pages) + 1
        if number > reader.max_pages:
            raise reader.too_many(number)
        if pos + PWG_HEADER_BYTES > len(content):
            raise reader.truncated(number, "its page header")
        raw = content[pos:pos + PWG_HEADER_BYTES]
        header = _pwg_header(raw)
        order = struct.unpack(">I", raw[396:400])[0]
        if order != 0:
            raise UnsupportedDocument(f"{reader.where(number)} has its colours in planes "
                                      f"(order {order}), which PWG raster does not allow")
        page = reader.page(number, header, _PWG_SPACES, pos + PWG_HEADER_BYTES, content)
        pages.append(page)
        pos = page.data_end
    return pages


def _urf_pages(reader: _Reader, content: bytes) -> list[RasterPage]:
    if len(content) < URF_FILE_HEADER_BYTES:
        raise reader.truncated(1, "the file header")
    claimed = struct.unpack(">I", content[8:12])[0]
    known = claimed not in (0, 0xFFFFFFFF)  # CUPS writes all ones when it does not know
    if known and claimed > reader.max_pages:
        raise DocumentTooLarge(
            f"{reader.name} ({reader.format_name}) claims {claimed:,} pages, more than the "
            f"limit of {reader.max_pages:,} per fax; split it into smaller faxes")
    pages: list[RasterPage] = []
    pos = URF_FILE_HEADER_BYTES
    while pos < len(content):
        number = len(pages) + 1
        if number > reader.max_pages:
            raise reader.too_many(number)
        if known and number > claimed:
            raise BrokenDocument(f"{reader.name} ({reader.format_name}) claims {claimed} "
                                 "pages but holds more; print the document again")
        if pos + URF_HEADER_BYTES > len(content):
            raise reader.truncated(number, "its page header")
        raw = content[pos:pos + URF_HEADER_BYTES]
        bpp, space = raw[0], raw[1]
        width, height, dpi = struct.unpack(">III", raw[12:24])
        channels = _CHANNELS.get(_URF_SPACES.get(space, "gray"), 1)
        if bpp == 1 and space in (0, 4):
            # URF has no 1-bit type, but CUPS's rastertopwg writes its 1-bit black (K)
            # input so, labelled sGray: its ones are ink
            space = _URF_BLACK
        header = _Header(width=width, height=height, x_dpi=dpi, y_dpi=dpi, space=space,
                         bits_per_color=bpp // channels, bits_per_pixel=bpp,
                         bytes_per_line=(width * bpp + 7) // 8)
        page = reader.page(number, header, _URF_SPACES, pos + URF_HEADER_BYTES, content)
        pages.append(page)
        pos = page.data_end
    if known and len(pages) < claimed:
        raise BrokenDocument(f"{reader.name} ({reader.format_name}) claims {claimed} pages "
                             f"but holds {len(pages)} (the file is truncated); print the "
                             "document again")
    return pages


def scan(name: str, content: bytes, max_pixels: int, max_pages: int) -> RasterDocument:
    """Find and check every page of a PWG raster or URF document, decoding no pixels.

    Raises :class:`BrokenDocument`, :class:`DocumentTooLarge` or
    :class:`UnsupportedDocument` with a message naming the page and what is wrong."""
    kind = raster_kind(content)
    if kind == "pwg-raster":
        reader = _Reader(name, "PWG raster", max_pixels, max_pages)
        pages = _pwg_pages(reader, content)
    elif kind == "urf":
        reader = _Reader(name, "Apple raster", max_pixels, max_pages)
        pages = _urf_pages(reader, content)
    else:
        raise UnsupportedDocument(f"{name} is not PWG raster or Apple raster (no RaS2 or "
                                  "UNIRAST sync word)")
    if not pages:
        raise BrokenDocument(f"{name} ({reader.format_name}) holds no pages; print the "
                             "document again")
    return RasterDocument(name, reader.format_name, content, tuple(pages))


LineSink = Callable[[bytes, int, int], None]
"""Called with (a decoded line, its first row, how many rows it fills)."""


def _walk_lines(reader: _Reader, page: RasterPage, content: bytes, sink: LineSink | None) -> int:
    """Walk the coded lines of ``page`` from ``page.data_start``, giving each decoded
    line to ``sink`` (None: only check them); the offset where the page's data ends."""
    bpl, unit = page.bytes_per_line, page.bytes_per_pixel
    white = b"\xff" if page.inks in ("gray", "rgb") else b"\x00"
    end = len(content)
    pos = page.data_start
    row = 0
    while row < page.height:
        if pos >= end:
            raise reader.truncated(page.number, f"line {row + 1} of {page.height}")
        repeat = content[pos] + 1
        pos += 1
        if row + repeat > page.height:
            raise BrokenDocument(
                f"{reader.where(page.number)} repeats line {row + 1} {repeat} times, past the "
                f"page's {page.height} lines; the file is damaged")
        filled = 0
        parts: list[bytes] = []
        while filled < bpl:
            if pos >= end:
                raise reader.truncated(page.number, f"line {row + 1} of {page.height}")
            control = content[pos]
            pos += 1
            if control == 128:
                if sink is not None:
                    parts.append(white * (bpl - filled))
                filled = bpl
                continue
            if control > 128:
                count = (257 - control) * unit
                stop = pos + count
                if sink is not None:
                    parts.append(content[pos:stop])
            else:
                count = (control + 1) * unit
                stop = pos + unit
                if sink is not None:
                    parts.append(content[pos:stop] * (control + 1))
            if filled + count > bpl:
                raise BrokenDocument(
                    f"{reader.where(page.number)} runs {filled + count - bpl} bytes past the "
                    f"end of line {row + 1}; the file is damaged")
            if stop > end:
                raise reader.truncated(page.number, f"line {row + 1} of {page.height}")
            pos = stop
            filled += count
        if sink is not None:
            sink(b"".join(parts), row, repeat)
        row += repeat
    return pos


def decode_page(document: RasterDocument, page: RasterPage) -> Gray:
    """The page as grey (uint8, 255 white), ``page.width`` by ``page.height``, upright."""
    gray = np.empty((page.height, page.width), dtype=np.uint8)
    to_gray = _line_to_gray(page)

    def put(line: bytes, row: int, repeat: int) -> None:
        gray[row:row + repeat] = to_gray(line)

    reader = _Reader(document.name, document.format_name, page.width * page.height, 1)
    _walk_lines(reader, page, document.content, put)
    if page.mirror_down:
        gray = gray[::-1]
    if page.mirror_across:
        gray = gray[:, ::-1]
    return np.ascontiguousarray(gray)


def _line_to_gray(page: RasterPage) -> Callable[[bytes], Gray]:
    width, inks, bits = page.width, page.inks, page.bits_per_color
    if bits == 1:
        ink_is_one = inks == "black"

        def from_bits(line: bytes) -> Gray:
            ones = np.unpackbits(np.frombuffer(line, dtype=np.uint8))[:width]
            white: Gray = np.where(ones != ink_is_one, 255, 0).astype(np.uint8)
            return white

        return from_bits
    step = bits // 8  # 16 bits: keep the high (first, big-endian) byte

    def samples(line: bytes) -> Gray:
        return np.frombuffer(line, dtype=np.uint8)[::step]

    if inks == "gray":
        return samples
    if inks == "black":

        def from_ink(line: bytes) -> Gray:
            inverted: Gray = np.subtract(255, samples(line), dtype=np.uint8)
            return inverted

        return from_ink
    if inks == "rgb":

        def from_rgb(line: bytes) -> Gray:
            rgb = samples(line).reshape(width, 3).astype(np.uint16)
            luma = (rgb[:, 0] * 77 + rgb[:, 1] * 150 + rgb[:, 2] * 29 + 128) >> 8
            return luma.astype(np.uint8)

        return from_rgb

    def from_cmyk(line: bytes) -> Gray:
        cmyk = samples(line).reshape(width, 4).astype(np.uint32)
        light = (255 - cmyk[:, :3]) * (255 - cmyk[:, 3:4]) // 255
        luma = (light[:, 0] * 77 + light[:, 1] * 150 + light[:, 2] * 29 + 128) >> 8
        gray: Gray = luma.astype(np.uint8)
        return gray

    return from_cmyk
