"""Thin strokes and fills of PDF pages widened so that no rule falls between pixels."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from tests.conversion import makers
from umfax.conversion import ConversionOptions, FaxPage, convert_documents, page_bitmap
from umfax.conversion.pdf_out import serialize_pdf

RULES = 40


def black(page: FaxPage) -> npt.NDArray[np.bool_]:
    return np.unpackbits(page_bitmap(page), axis=1)[:, :page.width].astype(bool)


def runs(line: npt.NDArray[np.bool_]) -> list[int]:
    """Lengths of the black runs along a line of pixels."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], line.astype(np.int8), [0]))))
    return [int(n) for n in edges[1::2] - edges[0::2]]


def _rules(width: str, form: bool = False) -> bytes:
    """Horizontal rules (left) and vertical rules (right) at every phase against the pixel
    grid: stroked ``width`` pt wide, or filled 0.5 pt boxes for ``width == "fill"``.  With
    ``form`` the drawing is a form XObject in units of half a point, drawn at twice the
    size: the same rules on the page, reached through the form's matrices."""
    k = 0.5 if form else 1.0
    ops = [] if width == "fill" else [f"{float(width) * k:g} w"]
    for i in range(RULES):
        y, x = (700 - i * 10.13) * k, (320 + i * 5.07) * k
        if width == "fill":
            ops.append(f"{100 * k} {y:.2f} {200 * k} {0.5 * k} re f "
                       f"{x:.2f} {300 * k} {0.5 * k} {200 * k} re f")
        else:
            ops.append(f"{100 * k} {y:.2f} m {300 * k} {y:.2f} l S "
                       f"{x:.2f} {300 * k} m {x:.2f} {500 * k} l S")
    content = "\n".join(ops).encode()
    if not form:
        return makers.pdf([content], size=makers.A4)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] "
            b"/Resources << /XObject << /X1 5 0 R >> >> /Contents 4 0 R >>"]
    page = b"q 2 0 0 2 0 0 cm /X1 Do Q"
    objs.append(b"<< /Length %d >>\nstream\n" % len(page) + page + b"\nendstream")
    objs.append(b"<< /Type /XObject /Subtype /Form /BBox [0 0 1200 1700] /Length %d >>\n"
                b"stream\n" % len(content) + content + b"\nendstream")
    return serialize_pdf(objs, root=1)


def _measure(pdf: bytes, resolution: str) -> tuple[list[int], list[int]]:
    """Thicknesses of the horizontal rules (in rows) and of the vertical ones (in columns)."""
    (page,) = convert_documents([("rules.pdf", pdf)],
                                ConversionOptions(resolution=resolution,  # type: ignore[arg-type]
                                                  paper="a4", trim_trailing_white=False))
    bitmap = black(page)
    column = int(150 / 595.28 * 1728)
    row = int((841.89 - 400) / 841.89 * bitmap.shape[0])
    return runs(bitmap[:, column]), runs(bitmap[row, :])


@pytest.mark.parametrize("width", ["0", "0.25", "0.5", "fill"])
@pytest.mark.parametrize("resolution", ["standard", "fine"])
def test_no_thin_rule_vanishes(width: str, resolution: str) -> None:
    """Ghostscript draws all forty rules; pixel-centre sampling alone drops a third of
    them at standard."""
    rows, cols = _measure(_rules(width), resolution)
    assert len(rows) == RULES and len(cols) == RULES


def test_half_point_rules_at_standard_as_ghostscript_draws_them() -> None:
    """0.68 of a row and 1.45 columns: rounded up to whole pixels wherever they fall,
    one row and two columns, as Ghostscript draws them at 98 lines/inch."""
    rows, cols = _measure(_rules("0.5"), "standard")
    assert set(rows) == {1} and set(cols) == {2}


def test_half_point_rules_at_fine_cover_every_pixel_they_touch() -> None:
    """1.36 rows and 1.45 columns touch two or three pixels across, as Ghostscript's
    rules at 196 lines/inch."""
    rows, cols = _measure(_rules("0.5"), "fine")
    assert set(rows) == set(cols) == {2, 3}


@pytest.mark.parametrize("width", ["0.5", "fill"])
def test_rules_inside_a_scaled_form_are_widened_in_page_units(width: str) -> None:
    """The same rules drawn through a form XObject at twice its size come out alike (the
    form's coordinates are rounded to 0.01 of its unit: a rule or two may shift phase)."""
    for got, want in zip(_measure(_rules(width, form=True), "fine"),
                         _measure(_rules(width), "fine"), strict=True):
        assert len(got) == len(want) == RULES
        assert (min(got), max(got)) == (min(want), max(want))
        assert abs(sum(got) - sum(want)) <= 2
