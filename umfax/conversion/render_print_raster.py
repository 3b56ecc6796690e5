"""Print rasters (PWG Raster, Apple raster) to grey fax frames, one page at a time.

Unlike an image file, a print raster knows its resolution, so each page keeps its
physical size: it is placed on the fax page exactly as the PDF it was printed from
would be (:func:`umfax.conversion.raster.place`: the paper's width across the fax line,
other sizes fitted and centred, landscape turned to portrait).  The frame is then
thresholded like any raster input (scans, images).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image

from umfax.conversion.model import FAX_WIDTH, Paper, Resolution
from umfax.conversion.print_raster import RasterDocument, RasterPage, decode_page, scan
from umfax.conversion.raster import Gray, place


def frame_from_raster(gray: Gray, page: RasterPage, paper: Paper,
                      resolution: Resolution) -> Gray:
    """A decoded page (``page.width`` x ``page.height`` grey) on a fax render frame."""
    width_in, height_in = page.width_inches, page.height_inches
    pl = place(width_in, height_in, paper, resolution)
    image = Image.fromarray(gray, "L")
    if pl.rotate:
        image = image.transpose(Image.Transpose.ROTATE_270)
        width_in, height_in = height_in, width_in
    tw = max(1, min(FAX_WIDTH, round(width_in * pl.scale_x)))
    th = max(1, min(pl.frame_rows, round(height_in * pl.scale_y)))
    scaled = np.asarray(image.resize((tw, th), Image.Resampling.LANCZOS, reducing_gap=3.0))
    frame = np.full((pl.frame_rows, FAX_WIDTH), 255, dtype=np.uint8)
    x0 = min(max(0, round(pl.offset_x)), FAX_WIDTH - tw)
    y0 = min(max(0, round(pl.offset_y)), pl.frame_rows - th)
    frame[y0:y0 + th, x0:x0 + tw] = scaled
    return frame


class PrintRasterSource:
    """A PWG raster or URF document: checked whole on opening (no pixels decoded), then
    decoded page by page as :meth:`pages` is iterated."""

    def __init__(self, name: str, content: bytes, max_pixels: int, max_pages: int) -> None:
        self.document: RasterDocument = scan(name, content, max_pixels, max_pages)
        self.page_count = len(self.document.pages)

    def pages(self, paper: Paper, resolution: Resolution) -> Iterator[Gray]:
        for page in self.document.pages:
            yield frame_from_raster(decode_page(self.document, page), page, paper, resolution)
