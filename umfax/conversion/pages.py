"""Coded fax pages: building, recoding, unwrapping, multi-page TIFF in and out."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from umfax.conversion import codec
from umfax.conversion.errors import BrokenDocument, CodingError, ConversionError
from umfax.conversion.model import FAX_WIDTH, X_DPI, Encoding, FaxPage
from umfax.conversion.tiff import Ifd, build_tiff, build_tiff_page, read_tiff
from umfax.errors import describe_error

logger = logging.getLogger(__name__)

Bitmap = npt.NDArray[np.uint8]
"""Packed rows, most significant bit first, set bit = black."""

_REVERSE = np.array([int(f"{i:08b}"[::-1], 2) for i in range(256)], dtype=np.uint8)


def reverse_bits(data: bytes) -> bytes:
    """Swap the bit order of every byte (FillOrder 2 <-> 1; Class 1 modems send LSB first)."""
    return _REVERSE[np.frombuffer(data, dtype=np.uint8)].tobytes()


def _encoding(value: str) -> Encoding:
    if value not in ("mh", "mr", "mmr"):
        raise ConversionError(f"unknown fax coding {value!r}; use mh, mr or mmr")
    return value  # type: ignore[return-value]


def page_from_bitmap(bitmap: Bitmap, encoding: Encoding, y_res: float,
                     x_res: float = X_DPI) -> FaxPage:
    """Code a packed bitmap into a single-page TIFF Class F."""
    encoding = _encoding(encoding)
    width = FAX_WIDTH if bitmap.shape[1] == FAX_WIDTH // 8 else bitmap.shape[1] * 8
    strip = codec.encode(bitmap, width, encoding)
    length = int(bitmap.shape[0])
    return FaxPage(data=build_tiff_page(strip, width, length, x_res, y_res, encoding),
                   width=width, length=length, x_res=x_res, y_res=y_res, encoding=encoding)


def _single_ifd(page: FaxPage) -> Ifd:
    try:
        ifds = read_tiff(page.data, max_ifds=1)
    except BrokenDocument as exc:
        raise CodingError(f"the fax page is not a valid TIFF page: {describe_error(exc)}") from exc
    return ifds[0]


def t4_strip(page: FaxPage) -> bytes:
    """The raw coded bit stream of a page (FillOrder=1, most significant bit first).

    MH/MR: an EOL before every line, no RTC (the sender appends RTC).  MMR: ends
    with EOFB.  Pages made from received data hold whatever the far end sent.
    """
    return _single_ifd(page).strip_data()


def page_bitmap(page: FaxPage) -> Bitmap:
    """Decode a page into packed rows (set bit = black)."""
    return codec.decode(t4_strip(page), page.width, page.length, page.encoding)


def recode_page(page: FaxPage, encoding: Encoding) -> FaxPage:
    """The same page coded as ``encoding`` (returned unchanged if it already is)."""
    encoding = _encoding(encoding)
    if page.encoding == encoding:
        return page
    return page_from_bitmap(page_bitmap(page), encoding, page.y_res, page.x_res)


def page_from_t4(data: bytes, width: int, length: int, encoding: Encoding,
                 x_res: float, y_res: float) -> FaxPage:
    """Wrap a received raw coded page (FillOrder=1) into a TIFF page.

    With ``length == 0`` the number of lines is found by decoding.
    """
    encoding = _encoding(encoding)
    if not data:
        raise CodingError("the received page holds no data")
    if length == 0:
        length = int(codec.decode(data, width, 0, encoding).shape[0])
    return FaxPage(data=build_tiff_page(data, width, length, x_res, y_res, encoding),
                   width=width, length=length, x_res=x_res, y_res=y_res, encoding=encoding)


def pages_to_tiff(pages: Sequence[FaxPage]) -> bytes:
    """A multi-page TIFF Class F (one strip per page, PageNumber n of m)."""
    if not pages:
        raise ConversionError("there are no pages to write")
    return build_tiff([(t4_strip(p), p.width, p.length, p.x_res, p.y_res, p.encoding)
                       for p in pages])


def _resolution(ifd: Ifd, length: int) -> tuple[float, float]:
    x = ifd.get(282)
    y = ifd.get(283)
    unit = ifd.get_int(296, 2)
    if not x or not y:
        # No resolution: guess standard or fine from the page length.
        return X_DPI, (98.0 if length < 1500 else 196.0)
    factor = 2.54 if unit == 3 else 1.0
    return float(x) * factor, float(y) * factor


def _ifd_to_page(ifd: Ifd, number: int) -> FaxPage:
    width = ifd.get_int(256, 0)
    length = ifd.get_int(257, 0)
    bits = ifd.get_int(258, 1)
    compression = ifd.get_int(259, 1)
    photometric = ifd.get_int(262, 0)
    fill_order = ifd.get_int(266, 1)
    if bits != 1 or ifd.get_int(277, 1) != 1:
        raise BrokenDocument(f"page {number} is not a black-and-white fax page")
    if not 1 <= width <= 10_000 or not 1 <= length <= 100_000:
        raise BrokenDocument(f"page {number} has an impossible size {width}x{length}")
    x_res, y_res = _resolution(ifd, length)
    strips = ifd.strips()
    if fill_order == 2:
        strips = [reverse_bits(s) for s in strips]
    if compression == 4:
        encoding: Encoding = "mmr"
    elif compression == 3:
        encoding = "mr" if ifd.get_int(292, 0) & 1 else "mh"
    else:
        raise BrokenDocument(
            f"page {number} is not MH/MR/MMR coded (TIFF compression {compression})")
    rows_per_strip = min(ifd.get_int(278, length), length)
    simple = photometric == 0 and (len(strips) == 1 or encoding != "mmr")
    if simple:
        return FaxPage(data=build_tiff_page(b"".join(strips), width, length, x_res, y_res,
                                            encoding),
                       width=width, length=length, x_res=x_res, y_res=y_res,
                       encoding=encoding)
    # Several MMR strips, or min-is-black: decode and code again.
    parts = []
    for i, strip in enumerate(strips):
        rows = min(rows_per_strip, length - i * rows_per_strip)
        if rows <= 0:
            break
        parts.append(codec.decode(strip, width, rows, encoding))
    bitmap = np.concatenate(parts) if len(parts) > 1 else parts[0]
    if photometric == 1:
        bitmap = np.bitwise_not(bitmap)
        if width % 8:
            bitmap[:, -1] &= np.uint8((0xFF << (8 - width % 8)) & 0xFF)
    strip = codec.encode(bitmap, width, encoding)
    return FaxPage(data=build_tiff_page(strip, width, int(bitmap.shape[0]), x_res, y_res,
                                        encoding),
                   width=width, length=int(bitmap.shape[0]), x_res=x_res, y_res=y_res,
                   encoding=encoding)


def tiff_to_pages(data: bytes, max_pages: int = 10_000) -> list[FaxPage]:
    """Split a fax TIFF (any Class F variant: MH/MR/MMR, either fill order, one or many
    strips) into pages.  Coded data is passed through whenever that is possible."""
    try:
        ifds = read_tiff(data, max_ifds=max_pages)
        return [_ifd_to_page(ifd, n + 1) for n, ifd in enumerate(ifds)]
    except ConversionError as exc:
        raise BrokenDocument(f"the fax TIFF cannot be read: {describe_error(exc)}") from exc
    except Exception as exc:
        raise BrokenDocument(f"the fax TIFF cannot be read ({type(exc).__name__})") from exc


def is_fax_tiff(data: bytes) -> bool:
    """True if every page of a TIFF is bilevel and MH/MR/MMR coded."""
    try:
        ifds = read_tiff(data, max_ifds=10_000)
    except ConversionError:
        return False
    return all(ifd.get_int(258, 1) == 1 and ifd.get_int(259, 1) in (3, 4) for ifd in ifds)
