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
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    n = len(pages)
    page_ids = [3 + 3 * i for i in range(n)]

    def obj(num: int, body: bytes) -> None:
        offsets[num] = len(out)
        out.extend(b"%d 0 obj\n" % num)
        out.extend(body)
        out.extend(b"\nendobj\n")

    obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    obj(2, b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n)
    for i, page in enumerate(pages):
        pid = page_ids[i]
        w_pt = page.width / page.x_res * 72.0
        h_pt = page.length / page.y_res * 72.0
        size = f"{_fmt(w_pt)} {_fmt(h_pt)}".encode()
        obj(pid, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 " + size +
            b"] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>"
            % (pid + 2, pid + 1))
        content = f"q {_fmt(w_pt)} 0 0 {_fmt(h_pt)} 0 0 cm /Im0 Do Q".encode()
        obj(pid + 1, b"<< /Length %d >>\nstream\n" % len(content) + content +
            b"\nendstream")
        data = t4_strip(page)
        params = (b"<< /K %d /Columns %d /Rows %d /BlackIs1 false >>"
                  % (_K[page.encoding], page.width, page.length))
        obj(pid + 2, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d "
            b"/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /CCITTFaxDecode "
            b"/DecodeParms " % (page.width, page.length) + params +
            b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
    info = 3 + 3 * n
    safe_title = title.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    obj(info, b"<< /Producer (umfax) /Title (" + safe_title.encode("latin-1", "replace")
        + b") >>")
    xref_at = len(out)
    total = info + 1
    out.extend(b"xref\n0 %d\n0000000000 65535 f \n" % total)
    for num in range(1, total):
        out.extend(b"%010d 00000 n \n" % offsets[num])
    out.extend(b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
               % (total, info, xref_at))
    return bytes(out)
