"""The header line drawn at the top of every page (HylaFAX's TagLine):
date and time on the left, sender in the middle, "Page n of m" on the right."""

from __future__ import annotations

import datetime as dt

import numpy as np
from PIL import Image, ImageDraw

from umfax.conversion.fonts import font
from umfax.conversion.model import FAX_WIDTH, X_DPI, HeaderInfo
from umfax.conversion.raster import Mask

POINT_SIZE = 8.0
BAND_INCHES = 0.16
SIDE_INCHES = 0.3


def header_text(info: HeaderInfo, page: int, pages: int,
                now: dt.datetime | None = None) -> tuple[str, str, str]:
    when = info.date or now or dt.datetime.now().astimezone()
    left = when.strftime("%Y-%m-%d %H:%M")
    who = " ".join(part for part in (info.sender_name.strip(),
                                     f"({info.station_id.strip()})" if info.station_id.strip()
                                     else "") if part)
    middle = f"From: {who}" if who else ""
    return left, middle, f"Page {page} of {pages}"


def draw_header(black: Mask, lines_per_inch: float, info: HeaderInfo, page: int, pages: int,
                now: dt.datetime | None = None) -> Mask:
    """Overwrite the top band of a page with the header line (returns a new bitmap)."""
    band_sq = round(BAND_INCHES * X_DPI)
    image = Image.new("L", (FAX_WIDTH, band_sq), 255)
    draw = ImageDraw.Draw(image)
    face = font("sans", round(POINT_SIZE / 72.0 * X_DPI))
    left, middle, right = header_text(info, page, pages, now)
    side = SIDE_INCHES * X_DPI
    y = band_sq * 0.15
    draw.text((side, y), left, font=face, fill=0)
    if middle:
        draw.text((FAX_WIDTH / 2 - face.getlength(middle) / 2, y), middle, font=face, fill=0)
    draw.text((FAX_WIDTH - side - face.getlength(right), y), right, font=face, fill=0)
    rows = max(1, round(BAND_INCHES * lines_per_inch))
    if rows != band_sq:
        image = image.resize((FAX_WIDTH, rows), Image.Resampling.BOX)
    band = np.asarray(image) < 160
    out = black.copy()
    rows = min(rows, out.shape[0])
    out[:rows] = band[:rows]
    return out
