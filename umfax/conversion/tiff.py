"""A small TIFF reader and a TIFF Class F writer (TIFF 6.0, RFC 3949 profile F).

The reader is defensive: it never trusts an offset or a count, bounds every loop, and
raises :class:`BrokenDocument` for anything it cannot make sense of.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Literal

from umfax.conversion.errors import BrokenDocument

Encoding = Literal["mh", "mr", "mmr"]

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8,
               16: 8, 17: 8, 18: 8}
_MAX_IFDS = 100_000
_MAX_ENTRIES = 1000

SOFTWARE = b"umfax\x00"


@dataclass
class Ifd:
    """One image directory: tag -> values, plus the file it came from."""

    source: bytes
    tags: dict[int, tuple[int | float, ...] | bytes] = field(default_factory=dict)

    def get(self, tag: int, default: int | float | None = None) -> int | float | None:
        value = self.tags.get(tag)
        if value is None or isinstance(value, bytes) or not value:
            return default
        return value[0]

    def get_int(self, tag: int, default: int) -> int:
        value = self.get(tag, default)
        return int(value) if value is not None else default

    def values(self, tag: int) -> tuple[int | float, ...]:
        value = self.tags.get(tag)
        if value is None or isinstance(value, bytes):
            return ()
        return value

    def strips(self) -> list[bytes]:
        offsets = self.values(273)
        counts = self.values(279)
        if not offsets or len(offsets) != len(counts):
            raise BrokenDocument("the TIFF image has no readable strips")
        out = []
        for off, cnt in zip(offsets, counts, strict=True):
            start, size = int(off), int(cnt)
            if start < 0 or size < 0 or start + size > len(self.source):
                raise BrokenDocument("the TIFF file is truncated (a strip lies past its end)")
            out.append(self.source[start:start + size])
        return out

    def strip_data(self) -> bytes:
        return b"".join(self.strips())


def read_tiff(data: bytes, max_ifds: int = _MAX_IFDS) -> list[Ifd]:
    """Parse every IFD of a TIFF file."""
    if len(data) < 8:
        raise BrokenDocument("the TIFF file is truncated")
    if data[:4] == b"II*\x00":
        end = "<"
    elif data[:4] == b"MM\x00*":
        end = ">"
    else:
        raise BrokenDocument("not a TIFF file")
    (offset,) = struct.unpack_from(end + "I", data, 4)
    ifds: list[Ifd] = []
    seen: set[int] = set()
    while offset:
        if offset in seen:
            raise BrokenDocument("the TIFF file is corrupt (its pages loop)")
        if len(ifds) >= max_ifds:
            raise BrokenDocument(f"the TIFF file has more than {max_ifds} pages")
        seen.add(offset)
        if offset + 2 > len(data):
            raise BrokenDocument("the TIFF file is truncated (a page directory is missing)")
        (count,) = struct.unpack_from(end + "H", data, offset)
        if count > _MAX_ENTRIES or offset + 2 + count * 12 + 4 > len(data):
            raise BrokenDocument("the TIFF file is corrupt (bad page directory)")
        ifd = Ifd(source=data)
        for i in range(count):
            tag, typ, n, raw = struct.unpack_from(end + "HHI4s", data, offset + 2 + i * 12)
            size = _TYPE_SIZES.get(typ)
            if size is None:
                continue
            total = size * n
            if total <= 4:
                blob = raw[:total]
            else:
                (voff,) = struct.unpack(end + "I", raw)
                if voff + total > len(data) or n > 10_000_000:
                    raise BrokenDocument("the TIFF file is truncated (a tag lies past its end)")
                blob = data[voff:voff + total]
            ifd.tags[tag] = _unpack(end, typ, n, blob)
        ifds.append(ifd)
        (offset,) = struct.unpack_from(end + "I", data, offset + 2 + count * 12)
    if not ifds:
        raise BrokenDocument("the TIFF file holds no pages")
    return ifds


def _unpack(end: str, typ: int, n: int, blob: bytes) -> tuple[int | float, ...] | bytes:
    if typ in (2, 7):
        return bytes(blob)
    fmt = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 11: "f", 12: "d", 16: "Q",
           17: "q", 18: "Q"}.get(typ)
    if fmt is not None:
        return struct.unpack(end + fmt * n, blob)
    # RATIONAL / SRATIONAL
    pairs = struct.unpack(end + ("I" if typ == 5 else "i") * (2 * n), blob)
    return tuple(pairs[i] / pairs[i + 1] if pairs[i + 1] else 0.0 for i in range(0, 2 * n, 2))


def compression_tags(encoding: Encoding) -> tuple[int, int, int]:
    """(Compression, options tag, options value) for a Class F page."""
    if encoding == "mh":
        return 3, 292, 0
    if encoding == "mr":
        return 3, 292, 1
    return 4, 293, 0


def _rational(value: float) -> tuple[int, int]:
    if abs(value - round(value)) < 1e-6:
        return round(value), 1
    return round(value * 1000), 1000


def _ifd_bytes(strip_offset: int, strip_len: int, width: int, length: int, x_res: float,
               y_res: float, encoding: Encoding, ifd_offset: int,
               page: tuple[int, int] | None) -> bytes:
    """Encode one little-endian IFD placed at ``ifd_offset`` (next-IFD pointer 0)."""
    compression, opt_tag, opt_value = compression_tags(encoding)
    entries: list[tuple[int, int, int, bytes]] = []  # tag, type, count, value bytes
    extra = bytearray()

    def short(tag: int, *vals: int) -> None:
        entries.append((tag, 3, len(vals), struct.pack("<" + "H" * len(vals), *vals)))

    def long(tag: int, val: int) -> None:
        entries.append((tag, 4, 1, struct.pack("<I", val)))

    long(254, 2)  # NewSubfileType: page of a multi-page document
    long(256, width)
    long(257, length)
    short(258, 1)
    short(259, compression)
    short(262, 0)  # min-is-white
    short(266, 1)  # FillOrder: most significant bit first
    long(273, strip_offset)
    short(274, 1)
    short(277, 1)
    long(278, length)
    long(279, strip_len)
    entries.append((282, 5, 1, struct.pack("<II", *_rational(x_res))))
    entries.append((283, 5, 1, struct.pack("<II", *_rational(y_res))))
    long(opt_tag, opt_value)
    short(296, 2)  # inch
    if page is not None:
        short(297, *page)
    entries.append((305, 2, len(SOFTWARE), SOFTWARE))
    entries.sort(key=lambda e: e[0])
    extra_base = ifd_offset + 2 + 12 * len(entries) + 4
    out = bytearray(struct.pack("<H", len(entries)))
    for tag, typ, count, value in entries:
        if len(value) <= 4:
            out += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\x00")
        else:
            out += struct.pack("<HHII", tag, typ, count, extra_base + len(extra))
            extra += value
            if len(extra) % 2:
                extra += b"\x00"
    out += struct.pack("<I", 0)
    return bytes(out + extra)


def build_tiff(pages: list[tuple[bytes, int, int, float, float, Encoding]],
               numbered: bool = True) -> bytes:
    """A little-endian TIFF Class F file: each page is (strip, width, length, xres, yres,
    encoding); one strip per page, strip data before its IFD."""
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    prev_next_ptr = 4
    total = len(pages)
    for number, (strip, width, length, x_res, y_res, encoding) in enumerate(pages):
        strip_offset = len(out)
        out += strip
        if len(out) % 2:
            out += b"\x00"
        ifd_offset = len(out)
        struct.pack_into("<I", out, prev_next_ptr, ifd_offset)
        ifd = _ifd_bytes(strip_offset, len(strip), width, length, x_res, y_res, encoding,
                         ifd_offset, (number, total) if numbered else None)
        out += ifd
        # the next-IFD pointer of this IFD sits right after its entries
        (entries,) = struct.unpack_from("<H", out, ifd_offset)
        prev_next_ptr = ifd_offset + 2 + 12 * entries
        if len(out) % 2:
            out += b"\x00"
    return bytes(out)


def build_tiff_page(strip: bytes, width: int, length: int, x_res: float, y_res: float,
                    encoding: Encoding) -> bytes:
    return build_tiff([(strip, width, length, x_res, y_res, encoding)], numbered=True)
