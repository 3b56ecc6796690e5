"""Real documents made on the spot for the conversion tests."""

from __future__ import annotations

import io
import zipfile
import zlib

from PIL import Image, ImageDraw, ImageFont

from umfax.conversion.pdf_out import serialize_pdf

A4 = (595.28, 841.89)
LETTER = (612.0, 792.0)
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def pdf(pages: list[bytes], size: tuple[float, float] = LETTER,
        sizes: list[tuple[float, float]] | None = None) -> bytes:
    """A PDF of content streams (font /F1 = Helvetica)."""
    objs: list[bytes] = [b"", b"", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for i, content in enumerate(pages):
        w, h = sizes[i] if sizes else size
        data = zlib.compress(content)
        objs.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data +
                    b"\nendstream")
        cid = len(objs)
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources "
                    b"<< /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (w, h, cid))
        kids.append(len(objs))
    objs[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objs[1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids) +
               b"] /Count %d >>" % len(kids))
    return _assemble(objs)


def _assemble(objs: list[bytes]) -> bytes:
    return serialize_pdf(objs, root=1)


def text_page(lines: list[str], size_pt: float = 12, x: float = 72, top: float = 720) -> bytes:
    ops = [f"BT /F1 {size_pt:g} Tf {x:g} {top - i * size_pt * 1.4:g} Td ({line}) Tj ET"
           for i, line in enumerate(lines)]
    return "\n".join(ops).encode("latin-1")


def frame_page(size: tuple[float, float], inset: float = 10.0) -> bytes:
    """A thick rectangle just inside the page edges (to check placement)."""
    w, h = size
    return (f"4 w {inset:g} {inset:g} {w - 2 * inset:g} {h - 2 * inset:g} re S").encode()


def many_pages_pdf(count: int) -> bytes:
    """A PDF with ``count`` pages sharing one empty content stream."""
    objs: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
                         b"<< /Length 0 >>\nstream\n\nendstream"]
    first = len(objs) + 1
    kids = []
    for i in range(count):
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >>")
        kids.append(first + i)
    objs[1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids) +
               b"] /Count %d >>" % count)
    return _assemble(objs)


def photo_pdf(gray_level: int = 128) -> bytes:
    """A page holding one flat grey image (a 'photo' of uniform tone) and a gradient."""
    w, h = 400, 400
    img = Image.new("L", (w, h), gray_level)
    for x in range(w):  # left half flat, right half a gradient
        if x >= w // 2:
            ImageDraw.Draw(img).line([(x, 0), (x, h)], fill=int(255 * (x - w // 2) / (w // 2)))
    raw = zlib.compress(img.tobytes())
    objs: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % (w, h, len(raw))
        + raw + b"\nendstream",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject "
        b"<< /Im0 3 0 R >> >> /Contents 5 0 R >>",
    ]
    content = b"q 432 0 0 432 90 180 cm /Im0 Do Q"
    objs.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    return _assemble(objs)


def text_image(text: str = "Hello fax world", size: tuple[int, int] = (1200, 1600),
               mode: str = "L") -> Image.Image:
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 60)
    draw.text((100, 100), text, font=font, fill=0)
    draw.rectangle((100, 300, size[0] - 100, 340), fill=0)
    return img.convert(mode)


def image_bytes(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims a huge image."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND",
                                                                                     b"")


def docx(paragraphs: list[str]) -> bytes:
    """A minimal valid DOCX (WordprocessingML) made by hand."""
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="applicati'
            'on/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" Conten'
            'tType="application/xml"/><Override PartName="/word/document.xml" ContentType="app'
            'lication/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            '</Types>'),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxm'
            'lformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://sch'
            'emas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target='
            '"word/document.xml"/></Relationships>'),
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxml'
            f'formats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>'),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def rtf(text: str) -> bytes:
    return ("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Helvetica;}}\\f0\\fs28 " + text +
            "\\par}").encode("latin-1")
