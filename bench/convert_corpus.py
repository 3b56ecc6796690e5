"""Synthetic documents for the conversion bench (and nothing else).

Everything is generated: the legibility corpus of bench/text_corpus.py (many typefaces,
sizes, styles, forms and scanned pages, with a held-out split), business-style PDFs with
7-9 pt type and ruled tables written as PDF bytes with the standard fonts (so the source
text is known exactly), a photo PDF (continuous-tone image), plain text and a grey "scan" of a text page.
"""

from __future__ import annotations

import io
import random
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from umfax.conversion.pdf_out import serialize_pdf

_WORDS_TEXT = (
    "account invoice payment delivery schedule contract amount customer supplier order "
    "quarter revenue balance shipment warehouse agreement review meeting budget report "
    "director manager approval request pending confirmed reference total subtotal tax "
    "credit debit statement policy insurance claim number period annual monthly weekly "
    "service support maintenance license renewal terms conditions notice attached please "
    "regards office department project milestone estimate quote purchase vendor item "
    "quantity price unit discount freight handling due date received issued signed "
)
WORDS = _WORDS_TEXT.split()

A4 = (595.28, 841.89)
LETTER = (612.0, 792.0)


@dataclass
class Doc:
    name: str
    kind: str  # "text" | "photo" | "plaintext" | "scan"
    content: bytes
    pages: int
    text: list[str]  # source text per page (for OCR accuracy), "" when not text
    cls: str = ""  # page class of the legibility table (bench/text_corpus.py); "" for none
    split: str = "tune"  # "tune" or "held" (held out from tuning)


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()
    if rng.random() < 0.5:
        words.insert(rng.randrange(1, n), f"{rng.randint(10, 99999):,}")
    return " ".join(words) + "."


def write_pdf(pages: list[tuple[tuple[float, float], bytes]],
              images: dict[str, tuple[int, int, bytes]] | None = None) -> bytes:
    """A PDF whose pages are (mediabox size, content stream); fonts F1 Helvetica,
    F2 Helvetica-Bold, F3 Times-Roman; images named Im* are JPEG (DCTDecode) grey."""
    images = images or {}
    objs: list[bytes] = []

    def add(body: bytes) -> int:
        objs.append(body)
        return len(objs)

    cat = add(b"")
    pages_id = add(b"")
    fonts = {name: add(b"<< /Type /Font /Subtype /Type1 /BaseFont /" + base +
                       b" /Encoding /WinAnsiEncoding >>")
             for name, base in ((b"F1", b"Helvetica"), (b"F2", b"Helvetica-Bold"),
                                (b"F3", b"Times-Roman"))}
    img_ids = {}
    for name, (w, h, jpeg) in images.items():
        img_ids[name] = add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d "
                            b"/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode"
                            b" /Length %d >>\nstream\n" % (w, h, len(jpeg)) + jpeg +
                            b"\nendstream")
    font_dict = b" ".join(b"/" + k + b" %d 0 R" % v for k, v in fonts.items())
    xo = b" ".join(b"/" + k.encode() + b" %d 0 R" % v for k, v in img_ids.items())
    res = b"<< /Font << " + font_dict + b" >> /XObject << " + xo + b" >> >>"
    kids = []
    for (w, h), content in pages:
        packed = zlib.compress(content)
        cid = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed +
                  b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] "
                        b"/Resources " % (pages_id, w, h) + res + b" /Contents %d 0 R >>" % cid))
    objs[cat - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id
    objs[pages_id - 1] = (b"<< /Type /Pages /Kids [" +
                          b" ".join(b"%d 0 R" % k for k in kids) + b"] /Count %d >>" % len(kids))
    return serialize_pdf(objs, root=cat)


def business_page(rng: random.Random, size: tuple[float, float]) -> tuple[bytes, str]:
    """One page: heading, paragraphs in 7-9 pt, a ruled table. Returns (content, text)."""
    w, h = size
    ops: list[str] = []
    text: list[str] = []
    y = h - 60.0
    margin = 54.0

    def line(font: str, pt: float, x: float, yy: float, s: str) -> None:
        ops.append(f"BT /{font} {pt:g} Tf {x:.2f} {yy:.2f} Td ({_esc(s)}) Tj ET")

    title = f"Quarterly {rng.choice(WORDS)} {rng.choice(WORDS)} report {rng.randint(1, 999)}"
    line("F2", 12, margin, y, title)
    text.append(title)
    y -= 22
    while y > 140:
        pt = rng.choice((7.0, 8.0, 9.0))
        font = rng.choice(("F1", "F3"))
        chars = int((w - 2 * margin) / (pt * 0.5))
        para = " ".join(_sentence(rng, rng.randint(6, 14)) for _ in range(rng.randint(2, 4)))
        words = para.split()
        cur = ""
        for word in words:
            if len(cur) + len(word) + 1 > chars:
                line(font, pt, margin, y, cur)
                text.append(cur)
                y -= pt * 1.25
                cur = word
            else:
                cur = f"{cur} {word}".strip()
        if cur:
            line(font, pt, margin, y, cur)
            text.append(cur)
            y -= pt * 1.25
        y -= pt * 0.8
        if rng.random() < 0.35 and y > 260:
            # a ruled table: 4 columns, 8 rows, 8 pt
            cols = [margin, margin + 90, margin + 250, margin + 350, w - margin]
            row_h = 12.0
            top = y
            header = ["Item", "Description", "Quantity", "Amount"]
            rows = [header] + [[f"{rng.randint(1000, 9999)}",
                                f"{rng.choice(WORDS)} {rng.choice(WORDS)}",
                                str(rng.randint(1, 500)),
                                f"{rng.randint(1, 99999)}.{rng.randint(0, 99):02d}"]
                               for _ in range(7)]
            for r, cells in enumerate(rows):
                yy = top - (r + 1) * row_h + 3.5
                for c, cell in enumerate(cells):
                    line("F2" if r == 0 else "F1", 8, cols[c] + 3, yy, cell)
                text.append(" ".join(cells))
            ops.append("0.5 w")
            for r in range(len(rows) + 1):
                yy = top - r * row_h
                ops.append(f"{cols[0]:.2f} {yy:.2f} m {cols[-1]:.2f} {yy:.2f} l S")
            for x in cols:
                ops.append(f"{x:.2f} {top:.2f} m {x:.2f} {top - len(rows) * row_h:.2f} l S")
            y = top - len(rows) * row_h - 14
    return "\n".join(ops).encode("latin-1"), "\n".join(text)


def business_pdf(seed: int, pages: int, size: tuple[float, float], split: str = "tune") -> Doc:
    rng = random.Random(seed)
    made = [business_page(rng, size) for _ in range(pages)]
    return Doc(name=f"business-{seed}.pdf", kind="text",
               content=write_pdf([(size, c) for c, _ in made]), pages=pages,
               text=[t for _, t in made], cls="business", split=split)


def photo_image(seed: int, w: int, h: int) -> Image.Image:
    """A synthetic continuous-tone 'photograph': gradients, soft shapes, texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 90 + 100 * (xx / w) + 40 * np.sin(yy / h * 6.0)
    for _ in range(12):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(w / 12, w / 4)
        d = np.hypot(xx - cx, yy - cy)
        img += rng.uniform(-70, 70) * np.exp(-(d / r) ** 2)
    img += rng.normal(0, 6, size=img.shape)
    arr = np.clip(img, 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "L").filter(ImageFilter.GaussianBlur(1.2))


def photo_pdf(seed: int, size: tuple[float, float] = A4) -> Doc:
    w, h = size
    img = photo_image(seed, 1200, 1600)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    content = f"q {w - 72:.2f} 0 0 {h - 72:.2f} 36 36 cm /Im0 Do Q".encode()
    return Doc(name=f"photo-{seed}.pdf", kind="photo",
               content=write_pdf([(size, content)], {"Im0": (1200, 1600, buf.getvalue())}),
               pages=1, text=[""])


def plain_text(seed: int, lines: int = 110) -> Doc:
    rng = random.Random(seed)
    out = [_sentence(rng, rng.randint(5, 11)) for _ in range(lines)]
    body = "\n".join(out) + "\n"
    pages = [out[i:i + 57] for i in range(0, len(out), 57)]
    return Doc(name=f"memo-{seed}.txt", kind="plaintext", content=body.encode(),
               pages=len(pages), text=["\n".join(p) for p in pages])


def scan(seed: int) -> Doc:
    """A grey 300 dpi 'scan' of a text page: off-white paper, blur, noise, slight skew."""
    rng = random.Random(seed)
    font_path = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
    font = ImageFont.truetype(font_path, 40)  # ~10 pt at 300 dpi
    img = Image.new("L", (2480, 3508), 235)
    d = ImageDraw.Draw(img)
    text = []
    y = 200
    while y < 3200:
        s = _sentence(rng, rng.randint(6, 9))
        d.text((220, y), s, font=font, fill=30)
        text.append(s)
        y += 60
    img = img.rotate(0.4, resample=Image.Resampling.BILINEAR, fillcolor=235)
    img = img.filter(ImageFilter.GaussianBlur(1.0))
    arr = np.asarray(img).astype(np.int16)
    arr = arr + np.random.default_rng(seed).normal(0, 5, arr.shape).astype(np.int16)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(300, 300))
    return Doc(name=f"scan-{seed}.png", kind="scan", content=buf.getvalue(), pages=1,
               text=["\n".join(text)])


def corpus(business_pages: int = 4, pages_per_class: int = 4,
           class_pages: dict[str, int] | None = None, business_held: int = 0) -> list[Doc]:
    """The bench's documents: the legibility corpus (bench/text_corpus.py, ``pages_per_class``
    pages of each class, ``class_pages`` for some), the original business pages (7-9 pt
    Helvetica and Times with ruled tables, half A4 and half Letter; tuned on), as many
    again held out (``business_held``: other seeds, half A4 and half Letter), a photo,
    plain text and a grey scan."""
    from bench.text_corpus import text_corpus

    docs = [Doc(name=d.name, kind="text", content=d.content, pages=1, text=d.text, cls=d.cls,
                split=d.split) for d in text_corpus(pages_per_class, class_pages)]
    if business_pages:
        docs += [business_pdf(1, (business_pages + 1) // 2, A4)]
        if business_pages > 1:
            docs += [business_pdf(2, business_pages // 2, LETTER)]
    if business_held:
        docs += [business_pdf(11, (business_held + 1) // 2, A4, split="held")]
        if business_held > 1:
            docs += [business_pdf(12, business_held // 2, LETTER, split="held")]
    docs += [photo_pdf(3), plain_text(4), scan(5)]
    return docs
