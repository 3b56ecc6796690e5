"""Fax pages to PDF, passing the coded data through (PDF's CCITTFaxDecode filter)."""

from __future__ import annotations

from collections.abc import Sequence

from umfax.conversion.errors import ConversionError
from umfax.conversion.model import FaxPage
from umfax.conversion.pages import t4_strip

_K = {"mh": 0, "mr": 4, "mmr": -1}


def _fmt(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def pages_to_pdf(pages: Sequence[FaxPage], title: str = "Fax") -> bytes:
    """A PDF with one page per fax page.  Each page is an image XObject holding the
    MH/MR/MMR data unchanged; its size follows the page's resolution, so standard and
    fine pages of the same paper come out the same physical size."""
    if not pages:
        raise ConversionError("there are no pages to write")
    n = len(pages)
    page_ids = [3 + 3 * i for i in range(n)]
    objs: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % pid for pid in page_ids)
        + b"] /Count %d >>" % n,
    ]
    for i, page in enumerate(pages):
        pid = page_ids[i]
        w_pt = page.width / page.x_res * 72.0
        h_pt = page.length / page.y_res * 72.0
        size = f"{_fmt(w_pt)} {_fmt(h_pt)}".encode()
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 " + size +
                    b"] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>"
                    % (pid + 2, pid + 1))
        content = f"q {_fmt(w_pt)} 0 0 {_fmt(h_pt)} 0 0 cm /Im0 Do Q".encode()
        objs.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        data = t4_strip(page)
        params = (b"<< /K %d /Columns %d /Rows %d /BlackIs1 false >>"
                  % (_K[page.encoding], page.width, page.length))
        objs.append(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d "
                    b"/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /CCITTFaxDecode "
                    b"/DecodeParms " % (page.width, page.length) + params +
                    b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
    safe_title = title.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    objs.append(b"<< /Producer (umfax) /Title (" + safe_title.encode("latin-1", "replace")
                + b") >>")
    return serialize_pdf(objs, root=1, info=len(objs))


def serialize_pdf(objs: Sequence[bytes], root: int, info: int | None = None) -> bytes:
    """A PDF file of ``objs`` (object ``i`` is ``objs[i - 1]``) with its xref table and
    trailer; ``root`` and ``info`` are object numbers."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out.extend(b"%d 0 obj\n" % num + body + b"\nendobj\n")
    xref_at = len(out)
    total = len(objs) + 1
    out.extend(b"xref\n0 %d\n0000000000 65535 f \n" % total)
    for offset in offsets:
        out.extend(b"%010d 00000 n \n" % offset)
    info_ref = b" /Info %d 0 R" % info if info is not None else b""
    out.extend(b"trailer\n<< /Size %d /Root %d 0 R" % (total, root) + info_ref
               + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref_at)
    return bytes(out)
