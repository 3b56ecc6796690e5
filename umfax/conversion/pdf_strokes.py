"""Thin strokes and thin fills of a PDF page widened so that no rule vanishes between pixels.

PDFium draws paths without anti-aliasing (the fax page is bilevel) by painting the
pixels whose centres the shape covers.  A 0.5 pt rule is 0.68 of a row at standard
resolution and 1.36 rows at fine: drawn so it vanishes wherever it misses a pixel
centre at standard (a third of such rules), and is one row or two at fine.  PostScript
paints every pixel a shape touches (the any-part-of-pixel rule), and Ghostscript, with
HylaFAX's arguments, draws the same rule 2-3 rows thick at fine and, with its stroke
adjustment at standard, exactly one row (widths rounded up to whole pixels: 0.25 and
0.5 pt one row, 0.75 and 1 pt two; 0.5 pt is two columns across).

So before a page is drawn (measured on rules at every phase against the grid):

* at fine and superfine every stroke is widened by one pixel (half a pixel each side:
  with centre sampling that is the any-part-of-pixel rule) and made at least
  :data:`MIN_PIXELS` thick;
* at standard (``adjust``) a stroke's width across its direction is rounded up to whole
  pixels, at least one (:data:`_EXACT`: a band a whole number of pixels thick covers
  that many centres wherever it falls), as Ghostscript's stroke adjustment does.  A pen
  is round and pixels there are twice as tall as wide, so the direction is the rule's:
  rows for a rule along x, columns for one along y, rows (the coarser pitch) for boxes
  and curves;
* a fill thinner than :data:`THIN_FILL_PIXELS` either way (a rule or border drawn as a
  filled box) gets a stroke in its own colour that does the same.

Larger fills and text are left as drawn: they cannot vanish, and fattening glyph-like
shapes closes their counters.
"""

from __future__ import annotations

import ctypes
import math

import pypdfium2.raw as pdfium_c

THIN_FILL_PIXELS = 2.0
"""A fill whose bounding box is thinner than this many pixels (across or down) is a rule."""
_EXACT = 1.001
"""A band a whole number of pixels thick (a hair over) covers that many pixel centres
wherever it falls."""
MIN_PIXELS = 1.05
"""No stroke or thin fill ends up thinner than this many pixels in either direction: with
pixel-centre sampling a band at least one pixel thick always covers a centre (a little
over one, so that rounding cannot split it evenly between two)."""

Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _then(inner: Matrix, outer: Matrix) -> Matrix:
    """``inner`` followed by ``outer`` (PDF row-vector convention: p' = p x inner x outer)."""
    a, b, c, d, e, f = inner
    A, B, C, D, E, F = outer
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D,
            e * A + f * C + E, e * B + f * D + F)


def _matrix(obj: ctypes.c_void_p) -> Matrix:
    m = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(obj, ctypes.byref(m)):
        return _IDENTITY
    return (m.a, m.b, m.c, m.d, m.e, m.f)


def _device_size(obj: ctypes.c_void_p, to_page: Matrix, px_x: float,
                 px_y: float) -> tuple[float, float] | None:
    """Width and height in pixels of the object's bounding box (``to_page`` maps its
    container's space to the page's; ``px_x``, ``px_y``: pixels per point along the
    page's x and y axes)."""
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    if not pdfium_c.FPDFPageObj_GetBounds(obj, ctypes.byref(left), ctypes.byref(bottom),
                                         ctypes.byref(right), ctypes.byref(top)):
        return None
    a, b, c, d, e, f = to_page
    xs, ys = [], []
    for x, y in ((left.value, bottom.value), (left.value, top.value),
                 (right.value, bottom.value), (right.value, top.value)):
        xs.append(x * a + y * c + e)
        ys.append(x * b + y * d + f)
    return (max(xs) - min(xs)) * px_x, (max(ys) - min(ys)) * px_y


def _widen_path(obj: ctypes.c_void_p, container: Matrix, px_x: float, px_y: float,
                adjust: bool) -> None:
    fill_mode, stroke = ctypes.c_int(), ctypes.c_int()
    if not pdfium_c.FPDFPath_GetDrawMode(obj, ctypes.byref(fill_mode), ctypes.byref(stroke)):
        return
    own = _then(_matrix(obj), container)
    scale = math.sqrt(abs(own[0] * own[3] - own[1] * own[2]))  # user units -> points
    if scale <= 0:
        return
    if stroke.value:
        width = ctypes.c_float()
        if not pdfium_c.FPDFPageObj_GetStrokeWidth(obj, ctypes.byref(width)):
            return
        got = width.value * scale  # points; 0 is PDF's thinnest line, which PDFium drops too
        if adjust:
            # across a rule along x the pitch is px_y to the point, across one along y
            # px_x; a box or a curve: the coarser pitch (where thin rules drop)
            size = _device_size(obj, container, px_x, px_y)
            px = min(px_x, px_y)
            if size is not None and size[1] <= got * px_y + 2 < size[0]:
                px = px_y
            elif size is not None and size[0] <= got * px_x + 2 < size[1]:
                px = px_x
            new = max(1, math.ceil(got * px - 1e-3)) * _EXACT / px
        else:
            new = max(got + 1.0 / max(px_x, px_y), MIN_PIXELS / min(px_x, px_y))
        pdfium_c.FPDFPageObj_SetStrokeWidth(obj, new / scale)
        return
    if fill_mode.value == pdfium_c.FPDF_FILLMODE_NONE:
        return
    size = _device_size(obj, container, px_x, px_y)
    if size is None or min(size) >= THIN_FILL_PIXELS:
        return
    rgba = [ctypes.c_uint() for _ in range(4)]
    if not pdfium_c.FPDFPageObj_GetFillColor(obj, *(ctypes.byref(v) for v in rgba)):
        return  # a pattern or shading: left as drawn
    # a stroke around the fill adds its width once across (half each side)
    if adjust:
        width_pt = max((max(1, math.ceil(got - 1e-3)) * _EXACT - got) / px
                       for got, px in zip(size, (px_x, px_y), strict=True)
                       if got < THIN_FILL_PIXELS)
    else:
        width_pt = max(1.0 / max(px_x, px_y),
                       *((MIN_PIXELS - got) / px for got, px in zip(size, (px_x, px_y),
                                                                    strict=True)))
    if width_pt <= 0:
        return
    pdfium_c.FPDFPageObj_SetStrokeColor(obj, *(v.value for v in rgba))
    pdfium_c.FPDFPageObj_SetStrokeWidth(obj, width_pt / scale)
    pdfium_c.FPDFPath_SetDrawMode(obj, fill_mode.value, True)


def widen_thin_paths(page: ctypes.c_void_p, px_x: float, px_y: float,
                     adjust: bool = False) -> None:
    """Widen the strokes and thin fills of a loaded page (FPDF_PAGE) in place, as the
    module says; ``px_x`` and ``px_y`` are device pixels per point along the page's x
    and y axes (swapped by the caller for a page turned to portrait).
    Paths inside form XObjects are reached too.  The page's content stream is not
    rewritten: only this loaded copy draws differently."""
    stack: list[tuple[ctypes.c_void_p, Matrix]] = []
    for i in range(pdfium_c.FPDFPage_CountObjects(page)):
        stack.append((pdfium_c.FPDFPage_GetObject(page, i), _IDENTITY))
    while stack:
        obj, container = stack.pop()
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            _widen_path(obj, container, px_x, px_y, adjust)
        elif kind == pdfium_c.FPDF_PAGEOBJ_FORM:
            inner = _then(_matrix(obj), container)
            for i in range(pdfium_c.FPDFFormObj_CountObjects(obj)):
                stack.append((pdfium_c.FPDFFormObj_GetObject(obj, i), inner))
