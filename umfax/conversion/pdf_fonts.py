"""Which installed fonts PDFium draws for the standard fonts a PDF names but does not embed.

A PDF may use Helvetica, Times and Courier (and, from office programs, Arial, Times New
Roman and Courier New) without embedding them.  PDFium asks the system for a font of that
name; Linux has none, so it falls back to its own built-in Type 1 substitutes, which it
draws without hinting: at 98 lines/inch with aliased text their bars and serifs fall
between pixel rows, and tesseract reads them worse than Ghostscript's URW fonts (7-9 pt
lines, three pages each: Helvetica 0.993 against 0.998, Courier 0.990 against 0.993).
So at standard resolution those names are asked for as the metric-compatible Liberation
fonts (same advance widths, so the layout is unchanged), which the hinter fits to the
pixel grid: Helvetica then reads 0.997, Times 0.998, Courier 0.997, for 2-4 % fewer
bytes.  Where Liberation is not installed PDFium's own fallback stays.
"""

from __future__ import annotations

import ctypes
import logging
import re
from typing import Any

import pypdfium2 as pdfium

logger = logging.getLogger(__name__)

_SUBSTITUTES = {
    "helvetica": b"Liberation Sans",
    "arial": b"Liberation Sans",
    "arialmt": b"Liberation Sans",
    "times": b"Liberation Serif",
    "timesroman": b"Liberation Serif",
    "timesnewroman": b"Liberation Serif",
    "timesnewromanps": b"Liberation Serif",
    "timesnewromanpsmt": b"Liberation Serif",
    "courier": b"Liberation Mono",
    "couriernew": b"Liberation Mono",
    "couriernewps": b"Liberation Mono",
    "couriernewpsmt": b"Liberation Mono",
}


def substitute_for(face: str) -> bytes | None:
    """The installed family to ask for in place of a standard face name, or None.

    The style part of the name (``Helvetica-BoldOblique``, ``Arial,Bold``) is dropped:
    PDFium passes weight and slant separately."""
    family = face.split("+", 1)[-1]  # a subset prefix (ABCDEF+Arial) on an unembedded font
    family = re.split(r"[-,]", family, maxsplit=1)[0]
    return _SUBSTITUTES.get(family.replace(" ", "").lower())


_installed = False
_enabled = False


def use_substitutes(enabled: bool) -> None:
    """Whether fonts PDFium loads from now on are substituted (call under the PDFium lock,
    before a page is loaded: PDFium asks for a document's fonts as its pages are parsed).

    Only standard resolution asks for them.  At fine the unhinted built-in fonts read as
    well or better (tesseract on bench/text_corpus.py: business 0.960 against 0.956 with
    Liberation, held-out forms 0.470 against 0.454): with twice the rows a bar no longer
    falls between them, and the hinter's rounding of stems to whole pixels thins them."""
    global _enabled
    install_substitutes()
    _enabled = enabled


def install_substitutes() -> None:
    """Register the substitution with PDFium, once per process (call under the PDFium
    lock).  A no-op where pypdfium2 lacks the system-font hook."""
    global _installed
    if _installed:
        return
    _installed = True
    base: Any = getattr(pdfium, "PdfSysfontBase", None)
    if base is None:
        logger.info("pypdfium2 has no system font hook; standard fonts use PDFium's own",
                    extra={"event": "pdf_fonts_default"})
        return

    class _StandardFontSubstitutes(base):  # type: ignore[misc,valid-type]
        def MapFont(self, _: object, weight: int, italic: int, charset: int,
                    pitch_family: int, face: Any, exact: object) -> object:
            name = ctypes.cast(face, ctypes.c_char_p).value or b""
            wanted = substitute_for(name.decode("latin-1")) if _enabled else None
            if wanted is not None:
                found = self.default.MapFont(self.default, weight, italic, charset,
                                             pitch_family, wanted, exact)
                if found:
                    return found
            return self.default.MapFont(self.default, weight, italic, charset,
                                        pitch_family, face, exact)

    _StandardFontSubstitutes().setup()
