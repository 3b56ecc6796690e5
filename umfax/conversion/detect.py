"""What a document is, judged by its content (the file name is only used in messages)."""

from __future__ import annotations

import io
import zipfile
from typing import Literal

Kind = Literal["pdf", "tiff", "image", "print-raster", "text", "office", "empty", "unknown"]

OFFICE_HINT = "DOCX, ODT, RTF, XLSX or PPTX"
SUPPORTED = f"PDF, plain text, TIFF, PNG, JPEG, GIF, BMP, {OFFICE_HINT}"


def detect(content: bytes) -> tuple[Kind, str]:
    """(kind, detail) where detail names the format, e.g. ("office", "docx")."""
    if not content:
        return "empty", ""
    if content[:4] == b"RaS2":
        return "print-raster", "pwg-raster"  # PWG 5102.4, sync word first
    if content[:8] == b"UNIRAST\x00":
        return "print-raster", "urf"  # Apple raster
    head = content[:1024]
    if b"%PDF-" in head:
        return "pdf", "pdf"
    if content[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff", "tiff"
    if content[:8] == b"\x89PNG\r\n\x1a\n":
        return "image", "png"
    if content[:3] == b"\xff\xd8\xff":
        return "image", "jpeg"
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if content[:2] == b"BM" and len(content) > 26:
        return "image", "bmp"
    if content[:5] == b"{\\rtf":
        return "office", "rtf"
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "office", "ole"  # legacy .doc/.xls/.ppt
    if content[:4] == b"PK\x03\x04":
        return _zip_kind(content)
    if _looks_like_text(content):
        return "text", "text"
    return "unknown", ""


def _zip_kind(content: bytes) -> tuple[Kind, str]:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            names = set(zf.namelist())
            if "mimetype" in names:
                mime = zf.read("mimetype")[:100].decode("ascii", "replace")
                for key, kind in (("opendocument.text", "odt"),
                                  ("opendocument.spreadsheet", "ods"),
                                  ("opendocument.presentation", "odp")):
                    if key in mime:
                        return "office", kind
            if "[Content_Types].xml" in names:
                for prefix, kind in (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx")):
                    if any(n.startswith(prefix) for n in names):
                        return "office", kind
    except (zipfile.BadZipFile, OSError, ValueError, KeyError):
        return "unknown", "zip"
    return "unknown", "zip"


def _looks_like_text(content: bytes) -> bool:
    sample = content[:65536]
    if sample[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True  # UTF-16 with byte-order mark
    if b"\x00" in sample:
        return False
    allowed = {9, 10, 12, 13, 27}
    controls = sum(1 for b in sample if (b < 32 and b not in allowed) or b == 127)
    return controls <= len(sample) // 1000
