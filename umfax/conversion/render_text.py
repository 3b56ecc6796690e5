"""Plain text to grey fax frames: monospaced 10 pt, wrapped, paginated, form feeds honoured.

Encodings: a byte-order mark (UTF-8/UTF-16) wins; otherwise UTF-8 if the bytes are valid
UTF-8, else Windows-1252 (which is Latin-1 plus printable characters in 0x80-0x9F), else
Latin-1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageDraw

from umfax.conversion.fonts import font
from umfax.conversion.model import FAX_WIDTH, PAPER_MM, SCAN_WIDTH_MM, X_DPI, Paper, Resolution
from umfax.conversion.raster import MM_PER_INCH, Gray, frame_rows, render_lines_per_inch

POINT_SIZE = 10.0
LINE_SPACING = 1.2
MARGIN_IN = 0.6
TAB = 8

_CONTROL = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode_text(content: bytes) -> str:
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", errors="replace")
    if content[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return content.decode("utf-16", errors="replace")
    for encoding in ("utf-8", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1")


def _wrap(line: str, columns: int) -> list[str]:
    if len(line) <= columns:
        return [line]
    out = []
    while len(line) > columns:
        cut = line.rfind(" ", 0, columns + 1)
        if cut <= columns // 2:
            cut = columns
        out.append(line[:cut].rstrip())
        line = line[cut:].lstrip(" ")
    out.append(line)
    return out


def layout(text: str, paper: Paper) -> list[list[str]]:
    """Split text into pages of wrapped lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    columns, lines_per_page = geometry(paper)
    pages: list[list[str]] = []
    for chunk in text.split("\f"):
        lines: list[str] = []
        for raw in chunk.split("\n"):
            lines.extend(_wrap(raw.expandtabs(TAB).rstrip(), columns))
        while lines and not lines[-1]:
            lines.pop()
        for i in range(0, max(len(lines), 1), lines_per_page):
            pages.append(lines[i:i + lines_per_page])
    # a trailing form feed does not make an extra empty page
    while len(pages) > 1 and not any(pages[-1]):
        pages.pop()
    return pages


def geometry(paper: Paper) -> tuple[int, int]:
    """(columns, lines per page) for the paper."""
    width_in = min(PAPER_MM[paper][0], SCAN_WIDTH_MM) / MM_PER_INCH - 2 * MARGIN_IN
    height_in = PAPER_MM[paper][1] / MM_PER_INCH - 2 * MARGIN_IN
    advance_in = POINT_SIZE * 0.602 / 72.0  # DejaVu Sans Mono advance is 0.602 em
    columns = int(width_in / advance_in)
    lines = int(height_in / (POINT_SIZE * LINE_SPACING / 72.0))
    return columns, lines


def render_page(lines: list[str], paper: Paper, resolution: Resolution) -> Gray:
    """One page of text as a grey frame at the render resolution.

    Drawn on a canvas the paper's width at 204 dpi, then mapped onto the 1728-pixel
    line like every other page (see :func:`umfax.conversion.raster.place`)."""
    px = X_DPI / 72.0
    square_rows = round(PAPER_MM[paper][1] / MM_PER_INCH * X_DPI)
    canvas_w = round(min(PAPER_MM[paper][0], SCAN_WIDTH_MM) / MM_PER_INCH * X_DPI)
    image = Image.new("L", (canvas_w, square_rows), 255)
    draw = ImageDraw.Draw(image)
    face = font("mono", round(POINT_SIZE * px))
    left = MARGIN_IN * X_DPI
    top = MARGIN_IN * X_DPI
    step = POINT_SIZE * LINE_SPACING * px
    for i, line in enumerate(lines):
        if line:
            draw.text((left, top + i * step), line, font=face, fill=0)
    rows = frame_rows(paper, render_lines_per_inch(resolution))
    if (canvas_w, square_rows) != (FAX_WIDTH, rows):
        image = image.resize((FAX_WIDTH, rows), Image.Resampling.BILINEAR)
    return np.asarray(image)


class TextSource:
    def __init__(self, name: str, content: bytes, paper: Paper) -> None:
        self.name = name
        self.paper = paper
        self.page_lines = layout(decode_text(content), paper)
        self.page_count = len(self.page_lines)

    def pages(self, paper: Paper, resolution: Resolution) -> Iterator[Gray]:
        for lines in self.page_lines:
            yield render_page(lines, paper, resolution)
