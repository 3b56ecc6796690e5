"""The legibility corpus of the conversion bench: text pages of many kinds, with ground truth.

Pages are drawn with ReportLab (the ``bench`` extra) in several typefaces, serif and
sans (Liberation Sans/Serif/Narrow, DejaVu Sans/Serif, and the unembedded standard
Helvetica, Times and Courier that each renderer substitutes by its own fonts), 6-14 pt,
regular, bold and italic.  Classes:

* ``sans``, ``serif``: body text, 8-12 pt, with a bold heading;
* ``small``: small print, 6-7.5 pt, mixed faces;
* ``styled``: bold, italic and bold italic lines, 8-14 pt;
* ``forms``: ruled tables, boxed fields with labels, check boxes and fill-in lines, 7-10 pt;
* ``scanned``: a page of another class rasterised at 200 dpi grey, turned by a fraction of
  a degree, on a grey paper tone, blurred and noisy, as a JPEG in a PDF.

Everything is seeded: the same bytes every run.  Each page belongs to the ``tune`` or
the ``held`` (held-out) split: conversion constants are chosen on ``tune`` pages only,
and the bench reports both, to show whether the held-out pages behave alike.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

CLASSES = ("sans", "serif", "small", "styled", "forms", "scanned")
PAGES_PER_CLASS = 4
"""Pages 0 and 2 of each class are for tuning, 1 and 3 held out."""

_TTF = {
    "LiberationSans": "/usr/share/fonts/truetype/liberation/LiberationSans-{}.ttf",
    "LiberationSerif": "/usr/share/fonts/truetype/liberation/LiberationSerif-{}.ttf",
    "LiberationSansNarrow": "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-{}.ttf",
}
_TTF_STYLES = {"": "Regular", "-Bold": "Bold", "-Italic": "Italic", "-BoldItalic": "BoldItalic"}
_DEJAVU = {
    "DejaVuSans": ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique"),
    "DejaVuSerif": ("DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSerif-Italic",
                    "DejaVuSerif-BoldItalic"),
}
_BASE14 = {
    "Helvetica": ("Helvetica", "Helvetica-Bold", "Helvetica-Oblique", "Helvetica-BoldOblique"),
    "Times": ("Times-Roman", "Times-Bold", "Times-Italic", "Times-BoldItalic"),
    "Courier": ("Courier", "Courier-Bold", "Courier-Oblique", "Courier-BoldOblique"),
}
SANS = ("LiberationSans", "DejaVuSans", "Helvetica", "LiberationSansNarrow")
SERIF = ("LiberationSerif", "DejaVuSerif", "Times")

_WORDS = str.split(
    "account invoice payment delivery schedule contract amount customer supplier order quarter "
    "revenue balance shipment warehouse agreement review meeting budget report director manager "
    "approval request pending confirmed reference total credit statement policy insurance claim "
    "period annual monthly service support maintenance license renewal terms conditions notice "
    "attached please regards office department project milestone estimate quote purchase vendor "
    "quantity price discount freight handling received issued signed patient referral physician "
    "pharmacy prescription dosage laboratory results appointment clinic hospital attorney court "
    "hearing filing exhibit plaintiff defendant witness signature notary deadline jurisdiction "
    "mortgage escrow title deed property lender borrower appraisal inspection closing lawyer "
    "Zurich Quebec Vienna Oxford Jackson Whitfield Bergmann Kowalski Fitzgerald Yamamoto "
    "quickly jumping fox lazy liquid beyond vexing wizard zephyr jovial quartz mixing hazy "
    "the of and to in for with on by at from as is was be are this that will not or per via "
)


@dataclass
class Page:
    """One page of the corpus: its class, split and the text on it (reading order)."""

    cls: str
    split: str  # "tune" | "held"
    text: str


@dataclass
class TextDoc:
    name: str
    cls: str
    split: str
    content: bytes
    text: list[str]


def _register_fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for family, pattern in _TTF.items():
        for suffix, style in _TTF_STYLES.items():
            name = family + suffix
            if name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(name, pattern.format(style)))
    for faces in _DEJAVU.values():
        for face in faces:
            if face not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(face, f"/usr/share/fonts/truetype/dejavu/{face}.ttf"))


def face(family: str, bold: bool = False, italic: bool = False) -> str:
    """The registered font name of a family in a style."""
    index = (1 if bold else 0) + (2 if italic else 0)
    if family in _BASE14:
        return _BASE14[family][index]
    if family in _DEJAVU:
        return _DEJAVU[family][index]
    return family + ("", "-Bold", "-Italic", "-BoldItalic")[index]


def _token(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.06:
        return f"{rng.randint(1, 99999):,}"
    if r < 0.09:
        letters = "ABCDEFGHKLMNPRSTVWXZ"
        return f"{rng.choice(letters)}{rng.choice(letters)}-{rng.randint(100, 9999)}"
    if r < 0.11:
        return f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/20{rng.randint(10, 30)}"
    if r < 0.13:
        return f"${rng.randint(1, 9999)}.{rng.randint(0, 99):02d}"
    word = rng.choice(_WORDS)
    if rng.random() < 0.05:
        word = word.upper()
    return word


def sentence(rng: random.Random, n: int) -> str:
    words = [_token(rng) for _ in range(n)]
    words[0] = words[0][:1].upper() + words[0][1:]
    for i in range(1, n - 1):
        if rng.random() < 0.08:
            words[i] += rng.choice((",", ";", ":"))
    if rng.random() < 0.1:
        i = rng.randrange(n)
        words[i] = f"({words[i]})"
    return " ".join(words) + rng.choice((".", ".", ".", "?", "!"))


class _Writer:
    """Draws lines on a ReportLab canvas top-down and records them as ground truth."""

    def __init__(self, canvas: object, size: tuple[float, float], margin: float = 56.0) -> None:
        self.c = canvas
        self.w, self.h = size
        self.margin = margin
        self.y = self.h - margin
        self.lines: list[str] = []

    def room(self, need: float) -> bool:
        return self.y - need > self.margin

    def line(self, font: str, pt: float, s: str, x: float | None = None, record: bool = True) -> None:
        self.c.setFont(font, pt)  # type: ignore[attr-defined]
        self.c.drawString(self.margin if x is None else x, self.y - pt, s)  # type: ignore[attr-defined]
        if record:
            self.lines.append(s)

    def paragraph(self, rng: random.Random, font: str, pt: float, sentences: int,
                  leading: float = 1.25) -> None:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        words = " ".join(sentence(rng, rng.randint(6, 14)) for _ in range(sentences)).split()
        width = self.w - 2 * self.margin
        cur = ""
        for word in words:
            trial = f"{cur} {word}".strip()
            if stringWidth(trial, font, pt) > width and cur:
                if not self.room(pt * leading):
                    return
                self.line(font, pt, cur)
                self.y -= pt * leading
                cur = word
            else:
                cur = trial
        if cur and self.room(pt * leading):
            self.line(font, pt, cur)
            self.y -= pt * leading
        self.y -= pt * 0.7


def _body(w: _Writer, rng: random.Random, families: tuple[str, ...], sizes: tuple[float, ...]) -> None:
    family = rng.choice(families)
    title = " ".join(_token(rng) for _ in range(rng.randint(3, 6))).title()
    w.line(face(family, bold=True), rng.choice((12.0, 14.0)), title)
    w.y -= 24
    while w.room(40):
        if rng.random() < 0.3:
            family = rng.choice(families)
        w.paragraph(rng, face(family), rng.choice(sizes), rng.randint(2, 4))


def _styled(w: _Writer, rng: random.Random) -> None:
    while w.room(40):
        family = rng.choice(SANS + SERIF)
        bold, italic = rng.random() < 0.5, rng.random() < 0.6
        pt = rng.choice((8.0, 9.0, 10.0, 11.0, 12.0, 14.0))
        w.paragraph(rng, face(family, bold, italic), pt, rng.randint(1, 2))


def _table(w: _Writer, rng: random.Random, family: str, pt: float) -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    cols = rng.randint(3, 5)
    width = w.w - 2 * w.margin
    edges = [w.margin + width * i / cols for i in range(cols + 1)]
    row_h = pt * 1.7
    rows = rng.randint(5, 9)
    top = w.y
    c = w.c
    c.setLineWidth(rng.choice((0.25, 0.5, 0.75, 1.0)))  # type: ignore[attr-defined]
    for r in range(rows):
        cells = []
        for i in range(cols):
            if r == 0:
                cell = _token(rng).capitalize()
            else:
                cell = " ".join(_token(rng) for _ in range(rng.randint(1, 2)))
            fnt = face(family, bold=r == 0)
            while stringWidth(cell, fnt, pt) > edges[i + 1] - edges[i] - 6 and " " in cell:
                cell = cell.rsplit(" ", 1)[0]
            if stringWidth(cell, fnt, pt) > edges[i + 1] - edges[i] - 6:
                cell = cell[:6]
            c.setFont(fnt, pt)  # type: ignore[attr-defined]
            c.drawString(edges[i] + 3, top - (r + 1) * row_h + pt * 0.5, cell)  # type: ignore[attr-defined]
            cells.append(cell)
        w.lines.append(" ".join(cells))
    for r in range(rows + 1):
        c.line(edges[0], top - r * row_h, edges[-1], top - r * row_h)  # type: ignore[attr-defined]
    for x in edges:
        c.line(x, top, x, top - rows * row_h)  # type: ignore[attr-defined]
    w.y = top - rows * row_h - 18


def _form(w: _Writer, rng: random.Random, family: str, pt: float) -> None:
    c = w.c
    c.setLineWidth(0.5)  # type: ignore[attr-defined]
    for _ in range(rng.randint(3, 5)):
        if not w.room(pt * 4):
            return
        label = f"{_token(rng).capitalize()} {_token(rng)}:"
        value = " ".join(_token(rng) for _ in range(rng.randint(1, 3)))
        box_h = pt * 2.2
        c.rect(w.margin, w.y - box_h, w.w - 2 * w.margin, box_h)  # type: ignore[attr-defined]
        c.setFont(face(family, bold=True), pt)  # type: ignore[attr-defined]
        c.drawString(w.margin + 4, w.y - pt * 1.5, label)  # type: ignore[attr-defined]
        c.setFont(face(family), pt)  # type: ignore[attr-defined]
        c.drawString(w.margin + 170, w.y - pt * 1.5, value)  # type: ignore[attr-defined]
        w.lines.append(f"{label} {value}")
        w.y -= box_h + 6
    if w.room(pt * 3):
        x = w.margin
        parts = []
        for _ in range(3):
            c.rect(x, w.y - pt, pt, pt)  # type: ignore[attr-defined]
            if rng.random() < 0.5:
                c.line(x, w.y - pt, x + pt, w.y)  # type: ignore[attr-defined]
            word = _token(rng).capitalize()
            c.setFont(face(family), pt)  # type: ignore[attr-defined]
            c.drawString(x + pt * 1.6, w.y - pt * 0.9, word)  # type: ignore[attr-defined]
            parts.append(word)
            x += 150
        w.lines.append(" ".join(parts))
        w.y -= pt * 2.5
    if w.room(pt * 3):
        label = f"{_token(rng).capitalize()}:"
        c.setFont(face(family), pt)  # type: ignore[attr-defined]
        c.drawString(w.margin, w.y - pt, label)  # type: ignore[attr-defined]
        c.line(w.margin + 70, w.y - pt - 1, w.w - w.margin, w.y - pt - 1)  # type: ignore[attr-defined]
        w.lines.append(label)
        w.y -= pt * 3


def _forms(w: _Writer, rng: random.Random) -> None:
    family = rng.choice(SANS + SERIF)
    w.line(face(family, bold=True), 12.0, " ".join(_token(rng) for _ in range(4)).title())
    w.y -= 22
    while w.room(120):
        pt = rng.choice((7.0, 8.0, 9.0, 10.0))
        if rng.random() < 0.5:
            _table(w, rng, family, pt)
        else:
            _form(w, rng, family, pt)
        if w.room(60):
            w.paragraph(rng, face(family), pt, 1)


def draw_page(cls: str, seed: int, size: tuple[float, float]) -> tuple[bytes, str]:
    """A one-page PDF of class ``cls`` (not ``scanned``) and its text."""
    from reportlab.pdfgen.canvas import Canvas

    _register_fonts()
    rng = random.Random(f"{cls}-{seed}")
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=size, invariant=1, pageCompression=1)
    w = _Writer(canvas, size)
    if cls == "sans":
        _body(w, rng, SANS, (8.0, 9.0, 10.0, 11.0, 12.0))
    elif cls == "serif":
        _body(w, rng, SERIF, (8.0, 9.0, 10.0, 11.0, 12.0))
    elif cls == "small":
        w.margin = 40.0
        _body(w, rng, SANS + SERIF, (6.0, 6.5, 7.0, 7.5))
    elif cls == "styled":
        _styled(w, rng)
    elif cls == "forms":
        _forms(w, rng)
    else:
        raise ValueError(cls)
    canvas.showPage()
    canvas.save()
    return buf.getvalue(), "\n".join(w.lines)


def scanned_page(seed: int, size: tuple[float, float]) -> tuple[bytes, str]:
    """A page of another class as a grey 200 dpi scan: skewed, toned, blurred, noisy."""
    import pypdfium2 as pdfium
    from reportlab.pdfgen.canvas import Canvas

    rng = random.Random(f"scanned-{seed}")
    source_cls = ("sans", "serif", "forms", "styled")[seed % 4]
    pdf_bytes, text = draw_page(source_cls, 1000 + seed, size)
    pdf = pdfium.PdfDocument(pdf_bytes)
    img = pdf[0].render(scale=200 / 72, grayscale=True).to_pil().convert("L")
    pdf.close()
    paper = rng.randint(200, 235)
    arr = np.asarray(img).astype(np.float32) / 255.0
    arr = paper * arr + rng.randint(15, 50) * (1 - arr)  # ink not quite black
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    img = img.rotate(rng.uniform(-0.9, 0.9), resample=Image.Resampling.BILINEAR, fillcolor=paper)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.1)))
    noisy = np.asarray(img).astype(np.int16)
    noisy += np.random.default_rng(seed).normal(0, rng.uniform(3, 8), noisy.shape).astype(np.int16)
    img = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "L")
    jpeg = io.BytesIO()
    img.save(jpeg, "JPEG", quality=75)
    jpeg.seek(0)
    from reportlab.lib.utils import ImageReader

    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=size, invariant=1)
    canvas.drawImage(ImageReader(jpeg), 0, 0, width=size[0], height=size[1])
    canvas.showPage()
    canvas.save()
    return buf.getvalue(), text


A4 = (595.28, 841.89)
LETTER = (612.0, 792.0)


def text_corpus(pages_per_class: int = PAGES_PER_CLASS,
                class_pages: dict[str, int] | None = None) -> list[TextDoc]:
    """Every class, ``pages_per_class`` one-page PDFs each (``class_pages``: another number
    for some classes), A4 and Letter alternating in pairs.  A class's first pages are the
    same whatever the number: more pages only add seeds, half of them held out."""
    docs = []
    for cls in CLASSES:
        for seed in range((class_pages or {}).get(cls, pages_per_class)):
            size = A4 if seed // 2 % 2 == 0 else LETTER  # each split has both
            content, text = (scanned_page(seed, size) if cls == "scanned"
                             else draw_page(cls, seed, size))
            split = "tune" if seed % 2 == 0 else "held"
            docs.append(TextDoc(f"{cls}-{seed}.pdf", cls, split, content, [text]))
    return docs


if __name__ == "__main__":  # write the corpus out for a look: python bench/text_corpus.py DIR
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "text-corpus")
    out.mkdir(exist_ok=True)
    for doc in text_corpus():
        (out / doc.name).write_bytes(doc.content)
        (out / (doc.name[:-4] + ".txt")).write_text(doc.text[0])
