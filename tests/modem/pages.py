"""Test helpers: coded fax pages made with Pillow, and decoding them back to pixels."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image, ImageDraw, ImageOps, TiffImagePlugin

from modem.api import Encoding, PageImage

WIDTH = 1728


def drawing(lines: int = 400, seed: int = 1) -> Image.Image:
    """A mode "1" page (white paper = 255, ink = 0) with text-like shapes."""
    img = Image.new("L", (WIDTH, lines), 255)
    d = ImageDraw.Draw(img)
    rng = np.random.default_rng(seed)
    for _ in range(60):
        x = int(rng.integers(0, WIDTH - 200))
        y = int(rng.integers(0, max(1, lines - 30)))
        d.rectangle((x, y, x + int(rng.integers(2, 200)), y + int(rng.integers(1, 25))), fill=0)
    d.text((100, 10), "umfax test page 0123456789", fill=0)
    d.line((0, 0, WIDTH - 1, lines - 1), fill=0, width=3)
    return img.convert("1")


def strip_of(tiff: bytes) -> bytes:
    with Image.open(io.BytesIO(tiff)) as im:
        tags = im.tag_v2
        offsets = tags[273]
        counts = tags[279]
        off = offsets[0] if isinstance(offsets, tuple) else offsets
        cnt = counts[0] if isinstance(counts, tuple) else counts
        assert (len(offsets) if isinstance(offsets, tuple) else 1) == 1, "single strip expected"
    return tiff[off: off + cnt]


def encode(img: Image.Image, encoding: Encoding, y_res: float = 196.0) -> PageImage:
    """Code a mode "1" image as a fax page (min-is-white, FillOrder=1)."""
    # Pillow writes min-is-black: invert so that paper (white) is coded as white runs.
    inv = ImageOps.invert(img.convert("L")).convert("1")
    buf = io.BytesIO()
    if encoding == "mmr":
        inv.save(buf, "TIFF", compression="group4", strip_size=1 << 30)
    else:
        TiffImagePlugin.WRITE_LIBTIFF = True
        extra = {} if encoding == "mh" else {292: 1}
        inv.save(buf, "TIFF", compression="group3", tiffinfo=extra, strip_size=1 << 30)
    data = strip_of(buf.getvalue())
    return PageImage(data=data, width=img.width, length=img.height, encoding=encoding,
                     x_res=204.0, y_res=y_res)


def tiff_wrap(data: bytes, width: int, length: int, encoding: Encoding,
              x_res: float = 204.0, y_res: float = 196.0) -> bytes:
    """A minimal single-strip min-is-white TIFF (TIFF-F like) around coded data."""
    compression = 4 if encoding == "mmr" else 3
    entries: list[tuple[int, int, int, int]] = [
        (256, 4, 1, width),
        (257, 4, 1, length),
        (258, 3, 1, 1),
        (259, 3, 1, compression),
        (262, 3, 1, 0),  # WhiteIsZero
        (266, 3, 1, 1),  # FillOrder
        (273, 4, 1, 0),  # StripOffsets (patched)
        (277, 3, 1, 1),
        (278, 4, 1, length),
        (279, 4, 1, len(data)),
        (282, 5, 1, 0),  # XResolution (patched: rational after the IFD)
        (283, 5, 1, 0),  # YResolution
        (296, 3, 1, 2),  # inches
    ]
    if encoding != "mmr":
        entries.append((292, 4, 1, (1 if encoding == "mr" else 0) | 4))
    entries.sort()
    ifd_size = 2 + 12 * len(entries) + 4
    rat_off = 8 + ifd_size
    data_off = rat_off + 16
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    out += struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        if tag == 273:
            value = data_off
        elif tag == 282:
            value = rat_off
        elif tag == 283:
            value = rat_off + 8
        if typ == 3:
            out += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, typ, count, value)
    out += struct.pack("<I", 0)
    out += struct.pack("<IIII", round(x_res * 100), 100, round(y_res * 100), 100)
    out += data
    return bytes(out)


def decode(page: PageImage, length: int | None = None) -> np.ndarray:
    """Pixels of a coded page as a bool array, True = ink (black)."""
    tif = tiff_wrap(page.data, page.width, length or page.length, page.encoding)
    with Image.open(io.BytesIO(tif)) as im:
        im.load()
        arr = np.array(im.convert("L"))
    return arr < 128


def pixels(img: Image.Image) -> np.ndarray:
    return np.array(img.convert("L")) < 128
