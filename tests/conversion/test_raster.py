"""The grey-to-bilevel step: standard-resolution PDF pages drawn with aliased text."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageFilter

from tests.conversion import makers
from umfax.conversion import ConversionOptions, FaxPage, convert_documents, page_bitmap
from umfax.conversion.raster import bridge_dropouts, smooth, trim_trailing_white
from umfax.conversion.render_pdf import PdfSource


def black(page: FaxPage) -> npt.NDArray[np.bool_]:
    return np.unpackbits(page_bitmap(page), axis=1)[:, :page.width].astype(bool)


def row(pattern: str) -> npt.NDArray[np.bool_]:
    return np.array([[c == "#" for c in pattern]])


def text(bitmap: npt.NDArray[np.bool_]) -> str:
    return "".join("#" if v else "." for v in bitmap[0])


def test_bridge_dropouts_fills_diagonal_joins_over_ink_only() -> None:
    bitmap = np.array([[1, 0, 0, 0, 0, 0],
                       [0, 0, 0, 1, 0, 1],
                       [0, 0, 1, 0, 0, 0]], dtype=bool)
    dark = np.full(bitmap.shape, 60, dtype=np.uint8)
    expected = bitmap.copy()
    expected[1, 1] = True  # between (0, 0) and (2, 2); (1, 4), between left and right, stays white
    assert np.array_equal(bridge_dropouts(bitmap, dark), expected)
    light = np.full(bitmap.shape, 200, dtype=np.uint8)
    assert np.array_equal(bridge_dropouts(bitmap, light), bitmap)  # not covered: kept white


def _rules_pdf(offsets: list[float], gray: float = 0.0) -> bytes:
    """Horizontal 0.5 pt rules at fractional heights, and a grey word."""
    ops = ["0.5 w"] + [f"72 {y:.3f} m 500 {y:.3f} l S" for y in offsets]
    ops.append(f"{gray:g} g BT /F1 10 Tf 72 300 Td (Grey footer text) Tj ET")
    return makers.pdf([("\n".join(ops)).encode()], size=makers.A4)


@pytest.mark.parametrize("shape", [(2290, 1728), (37, 50), (3, 3), (2, 9), (9, 1)])
@pytest.mark.parametrize("along_rows_only", [False, True])
def test_smooth_gives_pillows_binomial_kernel_pixels(shape: tuple[int, int], along_rows_only: bool) -> None:
    """smooth() is separable numpy; Pillow's 3x3 kernel filter is the reference (rounding,
    untouched border, saturated extremes)."""
    weights = (0, 0, 0, 1, 2, 1, 0, 0, 0) if along_rows_only else (1, 2, 1, 2, 4, 2, 1, 2, 1)
    kernel = ImageFilter.Kernel((3, 3), weights, scale=sum(weights))
    gray = np.random.default_rng(7).integers(0, 256, size=shape, dtype=np.uint8)
    gray[::5] = 255  # paper rows and ink columns: the extremes round exactly
    gray[:, ::4] = 0
    expected = np.asarray(Image.fromarray(gray, "L").filter(kernel))
    got = smooth(gray, along_rows_only=along_rows_only)
    assert got.dtype == np.uint8 and got.shape == gray.shape
    assert np.array_equal(got, expected), np.argwhere(got != expected)[:5]


def test_thin_rules_survive_at_standard() -> None:
    # twelve rules a little over one row apart: every phase against the 98-line grid
    offsets = [700 - i * 9.37 for i in range(12)]
    (page,) = convert_documents([("rules.pdf", _rules_pdf(offsets))],
                                ConversionOptions(resolution="standard", paper="a4"))
    bitmap = black(page)
    cover = bitmap[:, 300:1200].mean(axis=1)
    full_rows = np.flatnonzero(cover > 0.99)
    # rows of one rule are adjacent; count the rules
    rules = 1 + int(np.count_nonzero(np.diff(full_rows) > 1))
    assert rules == len(offsets)


def test_grey_text_stays_black_at_standard() -> None:
    (page,) = convert_documents([("grey.pdf", _rules_pdf([], gray=0.6))],
                                ConversionOptions(resolution="standard", paper="a4"))
    assert black(page).sum() > 300  # 60 % grey type is kept


def test_standard_pdf_text_is_crisp_and_photos_still_halftoned() -> None:
    text_pdf = makers.pdf([makers.text_page(["Crisp text at standard"], size_pt=9)])
    (rendered,) = PdfSource("t.pdf", text_pdf).pages("a4", "standard")
    assert rendered.crisp is not None
    assert rendered.crisp.shape[0] * 2 in (rendered.gray.shape[0], rendered.gray.shape[0] + 1)
    (fine,) = PdfSource("t.pdf", text_pdf).pages("a4", "fine")
    assert fine.crisp is None
    # aliased glyphs: only black and white in the crisp frame, no grey edges
    assert set(np.unique(rendered.crisp).tolist()) <= {0, 255}
    (page,) = convert_documents([("photo.pdf", makers.photo_pdf(128))],
                                ConversionOptions(resolution="standard",
                                                  trim_trailing_white=False))
    region = black(page)[350:550, 400:600]
    assert 0.35 < region.mean() < 0.65 and np.mean(region[1:] != region[:-1]) > 0.05


@pytest.mark.parametrize("lines_per_inch", [98.0, 196.0])
def test_trim_keeps_a_tenth_of_an_inch_below_the_last_ink(lines_per_inch: float) -> None:
    rows = int(11 * lines_per_inch)
    page = np.zeros((rows, 216), dtype=np.uint8)
    page[5 * int(lines_per_inch)] = 0xFF  # a rule half way down
    trimmed = trim_trailing_white(page, lines_per_inch)
    assert trimmed.shape[0] == 5 * int(lines_per_inch) + 1 + int(0.1 * lines_per_inch)
    assert np.array_equal(trimmed, page[: trimmed.shape[0]])
    near_top = np.zeros_like(page)
    near_top[3] = 0xFF
    assert trim_trailing_white(near_top, lines_per_inch).shape[0] == int(lines_per_inch)  # 1 inch at least
