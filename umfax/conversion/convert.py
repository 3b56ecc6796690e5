"""Documents to fax pages: detection, limits, rendering, bilevel, coding, cover, header."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import numpy as np

from umfax.conversion import codec
from umfax.conversion.cover import render_cover
from umfax.conversion.detect import SUPPORTED, detect
from umfax.conversion.errors import (
    BrokenDocument,
    ConversionError,
    DocumentTooLarge,
    UnsupportedDocument,
)
from umfax.conversion.header import draw_header
from umfax.conversion.model import (
    FAX_WIDTH,
    LINES_PER_INCH,
    ConversionOptions,
    FaxPage,
    Resolution,
    resolution_name,
)
from umfax.conversion.office import office_to_pdf
from umfax.conversion.pages import (
    Bitmap,
    is_fax_tiff,
    page_bitmap,
    page_from_bitmap,
    recode_page,
    tiff_to_pages,
)
from umfax.conversion.raster import (
    Gray,
    aliased_bitmap,
    crisp_bitmap,
    is_blank,
    pack,
    to_fax_bitmap,
    trim_trailing_white,
)
from umfax.conversion.render_image import ImageSource
from umfax.conversion.render_pdf import PdfSource
from umfax.conversion.render_print_raster import PrintRasterSource
from umfax.conversion.render_text import TextSource
from umfax.errors import describe_error

logger = logging.getLogger(__name__)

T = TypeVar("T")

Progress = Callable[[int, int], None]
"""Called with (pages done, pages planned)."""


@dataclass
class _Rendered:
    """One page out of a source: a grey frame to binarise (``crisp``, when given, is a
    frame with aliased text at the output resolution, see :func:`crisp_bitmap`, and
    ``gray`` is then the anti-aliased frame of a page with images, or None), or a
    finished fax page."""

    gray: Gray | None = None
    detect_photos: bool = False
    raster_input: bool = False
    page: FaxPage | None = None
    crisp: Gray | None = None
    aliased: bool = False
    """``gray`` has its text drawn aliased (see :func:`aliased_bitmap`)."""


def _nothing() -> None:
    return None


@dataclass
class _Plan:
    name: str
    page_count: int
    pages: Callable[[], Iterator[_Rendered]]
    close: Callable[[], None] = _nothing


def _validate(options: ConversionOptions) -> None:
    if options.resolution not in LINES_PER_INCH:
        raise ConversionError(f"unknown resolution {options.resolution!r}; "
                              "use standard, fine or superfine")
    if options.paper not in ("a4", "letter", "legal"):
        raise ConversionError(f"unknown paper size {options.paper!r}; use a4, letter or legal")
    if options.encoding not in codec.ENCODINGS:
        raise ConversionError(f"unknown fax coding {options.encoding!r}; use mh, mr or mmr")


def _resample_rows(bitmap: Bitmap, source: float, target: float) -> Bitmap:
    """Change vertical resolution by whole factors (OR-folding keeps thin lines)."""
    ratio = target / source
    if 0.4 < ratio < 0.6 or 0.2 < ratio < 0.3:
        factor = round(1 / ratio)
        rows = bitmap.shape[0] - bitmap.shape[0] % factor
        out = bitmap[0:rows:factor].copy()
        for k in range(1, factor):
            out |= bitmap[k:rows:factor]
        return out
    if 1.6 < ratio < 4.5:
        return np.repeat(bitmap, round(ratio), axis=0)
    return bitmap


def _fax_tiff_pages(name: str, content: bytes, options: ConversionOptions) -> list[FaxPage]:
    pages = tiff_to_pages(content, max_pages=options.limits.max_pages + 1)
    target = LINES_PER_INCH[options.resolution]
    out = []
    for page in pages:
        if abs(page.y_res - target) / target > 0.05:
            bitmap = _resample_rows(page_bitmap(page), page.y_res, target)
            page = page_from_bitmap(bitmap, options.encoding, target, page.x_res)
        else:
            page = recode_page(page, options.encoding)
        out.append(page)
    return out


def _plan(name: str, content: bytes, options: ConversionOptions) -> _Plan:
    limits = options.limits
    if not content:
        raise BrokenDocument(f"{name} is empty (0 bytes); attach the document again")
    if len(content) > limits.max_input_bytes:
        raise DocumentTooLarge(
            f"{name} is {len(content):,} bytes, more than the limit of "
            f"{limits.max_input_bytes:,}; send a smaller file or split it")
    kind, detail = detect(content)
    paper, res = options.paper, options.resolution
    if kind == "office":
        content = office_to_pdf(name, content, detail, limits.converter_timeout,
                                limits.max_unpacked_bytes)
        kind = "pdf"
    if kind == "pdf":
        pdf = PdfSource(name, content)
        if pdf.page_count > limits.max_pages:
            pdf.close()
            raise DocumentTooLarge(
                f"{name} has {pdf.page_count:,} pages, more than the limit of "
                f"{limits.max_pages:,} per fax; split it into smaller faxes")
        return _Plan(name, pdf.page_count,
                     lambda: (_Rendered(gray=p.frame, detect_photos=p.has_images, crisp=p.crisp,
                                        aliased=p.aliased)
                              for p in pdf.pages(paper, res)), pdf.close)
    if kind == "text":
        text = TextSource(name, content, paper)
        return _Plan(name, text.page_count,
                     lambda: (_Rendered(gray=g) for g in text.pages(paper, res)))
    if kind == "tiff" and is_fax_tiff(content):
        fax_pages = _fax_tiff_pages(name, content, options)
        if all(p.width == FAX_WIDTH for p in fax_pages):
            return _Plan(name, len(fax_pages), lambda: (_Rendered(page=p) for p in fax_pages))
    if kind in ("image", "tiff"):
        image = ImageSource(name, content, limits.max_pixels, all_frames=kind == "tiff")
        if image.page_count > limits.max_pages:
            raise DocumentTooLarge(
                f"{name} has {image.page_count:,} pages, more than the limit of "
                f"{limits.max_pages:,} per fax; split it into smaller faxes")
        return _Plan(name, image.page_count,
                     lambda: (_Rendered(gray=g, detect_photos=True, raster_input=True)
                              for g in image.pages(paper, res)))
    if kind == "print-raster":
        raster = PrintRasterSource(name, content, limits.max_pixels, limits.max_pages)
        return _Plan(name, raster.page_count,
                     lambda: (_Rendered(gray=g, detect_photos=True, raster_input=True)
                              for g in raster.pages(paper, res)))
    if kind == "empty":
        raise BrokenDocument(f"{name} is empty (0 bytes); attach the document again")
    what = "a zip archive that is not an office document" if detail == "zip" else \
        "binary data of an unknown type"
    raise UnsupportedDocument(f"{name} cannot be faxed: it is {what}; send {SUPPORTED}")


def _guard(name: str, work: Callable[[], T]) -> T:
    """Run ``work``; whatever goes wrong comes out as a ConversionError naming ``name``."""
    try:
        return work()
    except ConversionError as exc:
        if name in str(exc):
            raise
        raise type(exc)(f"{name}: {describe_error(exc)}") from exc
    except MemoryError as exc:
        raise DocumentTooLarge(f"{name} needs more memory than the server has; "
                               "send a smaller or simpler document") from exc
    except Exception as exc:
        logger.exception("conversion failed", extra={"document": name})
        raise ConversionError(f"{name} could not be converted ({describe_error(exc)}); "
                              "send it as a PDF") from exc


def _finish(gray: Gray | None, detect_photos: bool, options: ConversionOptions,
            trim: bool, raster_input: bool = False,
            crisp: Gray | None = None, aliased: bool = False) -> tuple[Bitmap, bool]:
    res: Resolution = options.resolution
    if crisp is not None:
        black = crisp_bitmap(crisp, gray, detect_photos)
    elif gray is None:
        raise ConversionError("a page was rendered without a frame")
    elif aliased:
        black = aliased_bitmap(gray, LINES_PER_INCH[res], detect_photos)
    else:
        black = to_fax_bitmap(gray, res, detect_photos, raster_input)
    packed = pack(black)
    blank = is_blank(packed)
    if trim and options.trim_trailing_white and not blank:
        packed = trim_trailing_white(packed, LINES_PER_INCH[res])
    return packed, blank


def convert_documents(documents: Sequence[tuple[str, bytes]], options: ConversionOptions,
                      progress: Progress | None = None) -> list[FaxPage]:
    """Turn (file name, content) pairs into coded fax pages, cover page first if asked.

    Raises :class:`ConversionError` (or a subclass) with a message for the sender.
    """
    _validate(options)
    started = time.perf_counter()
    if not documents and options.cover is None:
        raise ConversionError("there is nothing to send: no documents and no cover page")
    plans: list[_Plan] = []
    try:
        for name, content in documents:
            plans.append(_guard(name, partial(_plan, name, content, options)))
        planned = sum(p.page_count for p in plans) + (1 if options.cover else 0)
        limit = options.limits.max_pages
        if planned > limit:
            raise DocumentTooLarge(f"the fax would have {planned:,} pages, more than the limit "
                                   f"of {limit:,}; split it into smaller faxes")
        return _convert(plans, planned, options, progress, started)
    finally:
        for plan in plans:
            plan.close()


def _convert(plans: list[_Plan], planned: int, options: ConversionOptions,
             progress: Progress | None, started: float) -> list[FaxPage]:
    y_res = LINES_PER_INCH[options.resolution]
    pages: list[FaxPage] = []
    blanks: list[FaxPage] = []
    done = 0
    for plan in plans:

        def run(plan: _Plan = plan) -> None:
            nonlocal done
            for item in plan.pages():
                if item.page is not None:
                    pages.append(item.page)
                else:
                    packed, blank = _finish(item.gray, item.detect_photos, options, True,
                                            item.raster_input, item.crisp, item.aliased)
                    page = page_from_bitmap(packed, options.encoding, y_res)
                    if blank and options.drop_blank_pages:
                        blanks.append(page)
                    else:
                        pages.append(page)
                done += 1
                if progress:
                    progress(done, planned)

        _guard(plan.name, run)
    dropped = len(blanks)
    if not pages and blanks:
        pages = blanks[:1]  # a job of blank pages still sends one
        dropped -= 1
    if options.cover is not None:
        cover = options.cover

        def make_cover() -> FaxPage:
            gray = render_cover(cover, len(pages) + 1, options.paper, options.resolution,
                                options.cover_template)
            packed, _ = _finish(gray, False, options, False)
            return page_from_bitmap(packed, options.encoding, y_res)

        pages.insert(0, _guard("the cover page", make_cover))
        if progress:
            progress(planned, planned)
    if options.header is not None:
        pages = _guard("the header line", partial(_with_headers, pages, options))
    logger.info("documents converted", extra={
        "documents": len(plans), "pages": len(pages), "blank_pages_dropped": dropped,
        "resolution": options.resolution, "encoding": options.encoding,
        "seconds": round(time.perf_counter() - started, 3)})
    return pages


def _with_headers(pages: list[FaxPage], options: ConversionOptions) -> list[FaxPage]:
    assert options.header is not None
    out = []
    total = len(pages)
    for number, page in enumerate(pages, 1):
        black = np.unpackbits(page_bitmap(page), axis=1)[:, :page.width].astype(bool)
        lpi = LINES_PER_INCH[resolution_name(page.y_res)]
        black = draw_header(black, lpi, options.header, number, total)
        out.append(page_from_bitmap(pack(black), page.encoding, page.y_res, page.x_res))
    return out
