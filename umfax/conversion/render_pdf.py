"""PDF pages to grey fax frames with PDFium (pypdfium2), drawn straight at fax geometry.

Each page is rendered directly into a 1728-pixel-wide grey frame of the target paper,
with a non-uniform matrix (204 dpi across, 98, 196 or 391 lines/inch down), centred and,
for landscape pages, turned to portrait.  Thin strokes and fills are widened first so
that no rule falls between pixels (:mod:`umfax.conversion.pdf_strokes`).  At fine and
superfine resolution text is drawn aliased (hinted to the pixel grid, see
:func:`umfax.conversion.raster.aliased_bitmap`); at standard resolution the page is
drawn at 98 lines/inch with aliased text (the "crisp" frame, see
:func:`umfax.conversion.raster.crisp_bitmap`), and a page with images also anti-aliased
at 196 lines/inch, for its photographs.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from umfax.conversion.errors import (
    BrokenDocument,
    ConversionError,
    DocumentTooLarge,
    EncryptedDocument,
)
from umfax.conversion.model import FAX_WIDTH, LINES_PER_INCH, Paper, Resolution
from umfax.conversion.pdf_fonts import use_substitutes
from umfax.conversion.pdf_strokes import widen_thin_paths
from umfax.conversion.raster import Gray, crisp_lines_per_inch, place

logger = logging.getLogger(__name__)

# PDFium is not thread-safe; serialise all use of it in this process.
PDFIUM_LOCK = threading.RLock()

# Paths (rules, table borders, underlines, vector logos) are drawn aliased: an
# anti-aliased 0.5 pt rule is two grey rows that a threshold either drops or doubles, and
# its grey fringes bleed into text nearby.  On the bench's business pages tesseract read
# 0.933 -> 0.971 of characters at fine, 0.918 -> 0.945 at standard, for 1-2 % fewer bytes.
_RENDER_FLAGS = (
    pdfium_c.FPDF_GRAYSCALE
    | pdfium_c.FPDF_ANNOT
    | pdfium_c.FPDF_PRINTING
    | pdfium_c.FPDF_RENDER_NO_SMOOTHPATH
)
_CRISP_FLAGS = _RENDER_FLAGS | pdfium_c.FPDF_RENDER_NO_SMOOTHTEXT
"""Aliased, hinted text as well as aliased paths: glyphs land whole on the pixel grid.  A
thin rule drawn this way could vanish between pixel rows at 98 lines/inch; the strokes
are widened before drawing so that it cannot (:mod:`umfax.conversion.pdf_strokes`)."""
_MAX_PAGE_INCHES = 200.0  # PDF allows 200 in (14400 pt) at user unit 1


@dataclass
class RenderedPage:
    """``frame``: frame at the render resolution, anti-aliased unless ``aliased`` (text
    drawn aliased, at fine and superfine), or None at standard resolution on a page
    without images (the crisp frame serves alone); ``crisp``: frame at the output
    resolution with aliased text, at standard resolution only."""

    frame: Gray | None
    has_images: bool
    crisp: Gray | None = None
    aliased: bool = False

    @property
    def gray(self) -> Gray:
        """A frame at the render resolution whatever was drawn: ``frame``, or the crisp
        frame with its rows doubled."""
        if self.frame is not None:
            return self.frame
        assert self.crisp is not None
        return np.repeat(self.crisp, 2, axis=0)


def check_pdf_bytes(name: str, content: bytes) -> None:
    """Refuse a PDF that lacks its end (a truncated upload or download)."""
    if b"%%EOF" not in content[-2048:]:
        raise BrokenDocument(
            f"{name} is incomplete (the PDF is truncated: its end is missing); "
            "send the complete file")


class PdfSource:
    """An open PDF: page count up front, pages rendered one at a time."""

    def __init__(self, name: str, content: bytes) -> None:
        self.name = name
        self.closed = False
        check_pdf_bytes(name, content)
        with PDFIUM_LOCK:
            try:
                self.pdf = pdfium.PdfDocument(content)
            except pdfium.PdfiumError as exc:
                if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
                    raise EncryptedDocument(
                        f"{name} is encrypted (password protected); "
                        "send an unencrypted copy") from exc
                if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_SECURITY:
                    raise EncryptedDocument(
                        f"{name} uses an unsupported security handler; "
                        "send an unencrypted copy") from exc
                raise BrokenDocument(
                    f"{name} is not a readable PDF (it is damaged); "
                    "open it in a PDF viewer, save a new copy and send that") from exc
            self.page_count = len(self.pdf)
        if self.page_count == 0:
            self.close()
            raise BrokenDocument(f"{name} has no pages; send a PDF with content")

    def close(self) -> None:
        """Close the document (safe to call more than once)."""
        with PDFIUM_LOCK:
            if not self.closed:
                self.closed = True
                self.pdf.close()

    def pages(self, paper: Paper, resolution: Resolution) -> Iterator[RenderedPage]:
        try:
            for index in range(self.page_count):
                yield self.render(index, paper, resolution)
        finally:
            self.close()

    def render(self, index: int, paper: Paper, resolution: Resolution) -> RenderedPage:
        with PDFIUM_LOCK:
            # standard fonts the PDF does not embed: see umfax.conversion.pdf_fonts
            use_substitutes(resolution == "standard")
            try:
                page = self.pdf[index]
            except Exception as exc:
                raise BrokenDocument(
                    f"page {index + 1} of {self.name} cannot be read (the PDF is damaged)"
                ) from exc
            try:
                return self._render_page(page, index, paper, resolution)
            finally:
                page.close()

    def _render_page(self, page: pdfium.PdfPage, index: int, paper: Paper,
                     resolution: Resolution) -> RenderedPage:
        w_pt, h_pt = page.get_size()
        if not (0 < w_pt <= _MAX_PAGE_INCHES * 72 and 0 < h_pt <= _MAX_PAGE_INCHES * 72):
            raise DocumentTooLarge(
                f"page {index + 1} of {self.name} has an impossible size "
                f"({w_pt:.0f} x {h_pt:.0f} points)")
        has_images = any(True for _ in page.get_objects(
            filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_SHADING],
            max_depth=4))
        out = place(w_pt / 72.0, h_pt / 72.0, paper, resolution,
                    lines_per_inch=LINES_PER_INCH[resolution],
                    true_height=resolution == "standard")
        across, down = out.scale_x / 72.0, out.scale_y / 72.0  # output pixels per point
        widen_thin_paths(page.raw, *((down, across) if out.rotate else (across, down)),
                         adjust=resolution == "standard")
        if resolution != "standard":
            # Aliased, hinted glyphs read better than any threshold of anti-aliased ones at
            # fine too (tesseract on bench/text_corpus.py: small print 0.90 -> 0.99, as
            # Ghostscript), and images are drawn the same either way.
            frame = self._draw(page, w_pt, h_pt, paper, resolution, None, _CRISP_FLAGS)
            return RenderedPage(frame=frame, has_images=has_images, aliased=True)
        crisp = self._draw(page, w_pt, h_pt, paper, resolution, crisp_lines_per_inch(resolution),
                           _CRISP_FLAGS)
        # The anti-aliased frame serves photographs (their true tone, halftoned) and the
        # text of scans; on other pages text and rules come from the crisp frame alone
        # (bridging its diagonal dropouts from the anti-aliased one, as pages with images
        # still do, read no better on bench/text_corpus.py: small print 0.9880 against
        # 0.9914 without, forms 0.9903 against 0.9924, tesseract --psm 3) and drawing it
        # took a third of a standard page's time.
        anti_aliased = (self._draw(page, w_pt, h_pt, paper, resolution, None, _RENDER_FLAGS)
                        if has_images else None)
        return RenderedPage(frame=anti_aliased, has_images=has_images, crisp=crisp)

    def _draw(self, page: pdfium.PdfPage, w_pt: float, h_pt: float, paper: Paper,
              resolution: Resolution, lines_per_inch: float | None, flags: int) -> Gray:
        pl = place(w_pt / 72.0, h_pt / 72.0, paper, resolution,
                   lines_per_inch=lines_per_inch, true_height=resolution == "standard")
        gray = np.full((pl.frame_rows, FAX_WIDTH), 255, dtype=np.uint8)
        sx, sy = pl.scale_x / 72.0, pl.scale_y / 72.0  # pixels per point
        if pl.rotate:
            # (x, y) top-left origin points -> turned clockwise: (H - y, x)
            matrix = pdfium_c.FS_MATRIX(0.0, sy, -sx, 0.0, sx * h_pt + pl.offset_x,
                                        pl.offset_y)
        else:
            matrix = pdfium_c.FS_MATRIX(sx, 0.0, 0.0, sy, pl.offset_x, pl.offset_y)
        clip = pdfium_c.FS_RECTF(0.0, 0.0, float(FAX_WIDTH), float(pl.frame_rows))
        bitmap = pdfium_c.FPDFBitmap_CreateEx(
            FAX_WIDTH, pl.frame_rows, pdfium_c.FPDFBitmap_Gray,
            gray.ctypes.data_as(ctypes.c_void_p), FAX_WIDTH)
        if not bitmap:
            raise ConversionError(f"could not allocate a page for {self.name}")
        try:
            pdfium_c.FPDF_RenderPageBitmapWithMatrix(bitmap, page.raw, ctypes.byref(matrix),
                                                     ctypes.byref(clip), flags)
        finally:
            pdfium_c.FPDFBitmap_Destroy(bitmap)
        return gray
