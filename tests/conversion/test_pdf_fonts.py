"""Standard fonts a PDF does not embed are drawn with the installed Liberation fonts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from umfax.conversion.model import Resolution
from umfax.conversion.pdf_fonts import substitute_for
from umfax.conversion.pdf_out import serialize_pdf
from umfax.conversion.render_pdf import PdfSource

LIBERATION = Path("/usr/share/fonts/truetype/liberation")


@pytest.mark.parametrize("face,family", [
    ("Helvetica", b"Liberation Sans"),
    ("Helvetica-BoldOblique", b"Liberation Sans"),
    ("Arial,Bold", b"Liberation Sans"),
    ("ArialMT", b"Liberation Sans"),
    ("ABCDEF+Arial-BoldMT", b"Liberation Sans"),
    ("Times-Roman", b"Liberation Serif"),
    ("TimesNewRomanPS-ItalicMT", b"Liberation Serif"),
    ("Times New Roman", b"Liberation Serif"),
    ("Courier-Bold", b"Liberation Mono"),
    ("CourierNewPSMT", b"Liberation Mono"),
    ("Symbol", None),
    ("DejaVuSans", None),
    ("Helveticaish", None),
])
def test_standard_names_map_to_metric_compatible_families(face: str, family: bytes | None) -> None:
    assert substitute_for(face) == family


def _text_frame(base_font: bytes, subtype: bytes,
                resolution: Resolution = "standard") -> npt.NDArray[np.bool_]:
    content = b"BT /F1 9 Tf 72 700 Td (Minimum handling 4711 e a g) Tj ET"
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            b"<< /Type /Font /Subtype /" + subtype + b" /BaseFont /" + base_font + b" >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"]
    page = PdfSource("t.pdf", serialize_pdf(objs, root=1)).render(0, "a4", resolution)
    frame = page.crisp if page.crisp is not None else page.gray
    return frame < 128


@pytest.mark.skipif(not (LIBERATION / "LiberationSans-Regular.ttf").is_file(),
                    reason="fonts-liberation is not installed")
@pytest.mark.parametrize("standard,liberation", [
    (b"Helvetica", b"Liberation#20Sans"),
    (b"Times-Roman", b"Liberation#20Serif"),
])
def test_unembedded_standard_font_is_drawn_as_liberation(standard: bytes, liberation: bytes) -> None:
    """PDFium's built-in substitute (unhinted) would differ in some 200 pixels here."""
    ours = _text_frame(standard, b"Type1")
    assert ours.sum() > 500
    assert np.array_equal(ours, _text_frame(liberation, b"TrueType"))


@pytest.mark.skipif(not (LIBERATION / "LiberationSans-Regular.ttf").is_file(),
                    reason="fonts-liberation is not installed")
def test_fine_keeps_pdfiums_own_font_and_standard_substitutes_again() -> None:
    """At fine the built-in font reads as well (bench); the choice is made per document."""
    fine = _text_frame(b"Helvetica", b"Type1", "fine")
    assert fine.sum() > 500
    assert not np.array_equal(fine, _text_frame(b"Liberation#20Sans", b"TrueType", "fine"))
    assert np.array_equal(_text_frame(b"Helvetica", b"Type1"),
                          _text_frame(b"Liberation#20Sans", b"TrueType"))
