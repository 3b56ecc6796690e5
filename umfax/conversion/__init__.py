"""Documents to fax pages and back.

Outbound: :func:`convert_documents` turns PDF, text, TIFF, images, print rasters (PWG
Raster, Apple raster) and office documents into coded fax pages (:class:`FaxPage`, each
a single-page TIFF Class F).  Inbound: :func:`tiff_to_pages`, :func:`page_from_t4`,
:func:`pages_to_pdf`, :func:`preview_png`.
"""

from umfax.conversion.convert import convert_documents
from umfax.conversion.cover import DEFAULT_TEMPLATE, TemplateError
from umfax.conversion.errors import (
    BrokenDocument,
    CodingError,
    ConversionError,
    ConversionStopped,
    ConverterTimeout,
    DocumentTooLarge,
    EncryptedDocument,
    ToolMissing,
    UnsupportedDocument,
)
from umfax.conversion.model import (
    ConversionLimits,
    ConversionOptions,
    CoverInfo,
    Encoding,
    FaxPage,
    HeaderInfo,
    Paper,
    Resolution,
)
from umfax.conversion.pages import (
    page_bitmap,
    page_from_t4,
    pages_to_tiff,
    recode_page,
    reverse_bits,
    t4_strip,
    tiff_to_pages,
)
from umfax.conversion.pdf_out import pages_to_pdf
from umfax.conversion.preview import preview_png

__all__ = [
    "DEFAULT_TEMPLATE",
    "BrokenDocument",
    "CodingError",
    "ConversionError",
    "ConversionLimits",
    "ConversionOptions",
    "ConversionStopped",
    "ConverterTimeout",
    "CoverInfo",
    "DocumentTooLarge",
    "Encoding",
    "EncryptedDocument",
    "FaxPage",
    "HeaderInfo",
    "Paper",
    "Resolution",
    "TemplateError",
    "ToolMissing",
    "UnsupportedDocument",
    "convert_documents",
    "page_bitmap",
    "page_from_t4",
    "pages_to_pdf",
    "pages_to_tiff",
    "preview_png",
    "recode_page",
    "reverse_bits",
    "t4_strip",
    "tiff_to_pages",
]
