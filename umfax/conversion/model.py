"""Records of the conversion layer: pages, options, limits, cover and header data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Encoding = Literal["mh", "mr", "mmr"]
Resolution = Literal["standard", "fine", "superfine"]
Paper = Literal["a4", "letter", "legal"]

FAX_WIDTH = 1728
"""Pixels per line at every resolution umfax sends (215 mm of scan width, ITU-T T.4)."""
X_DPI = 204.0
"""Horizontal resolution written to TIFF (8 pels/mm, rounded as HylaFAX and efax do)."""

LINES_PER_INCH: dict[str, float] = {"standard": 98.0, "fine": 196.0, "superfine": 391.0}
"""Vertical resolution: 3.85, 7.7 and 15.4 lines/mm."""

PAPER_MM: dict[str, tuple[float, float]] = {
    "a4": (210.0, 297.0),
    "letter": (215.9, 279.4),
    "legal": (215.9, 355.6),
}

SCAN_WIDTH_MM = 215.0


def resolution_name(y_res: float) -> Resolution:
    """The resolution whose lines per inch are nearest to ``y_res``."""
    best: Resolution = "fine"
    for name in ("standard", "fine", "superfine"):
        if abs(LINES_PER_INCH[name] - y_res) < abs(LINES_PER_INCH[best] - y_res):
            best = name  # type: ignore[assignment]
    return best


@dataclass(frozen=True)
class FaxPage:
    """One coded fax page: ``data`` is a complete single-page TIFF Class F
    (min-is-white, FillOrder=1, one strip, resolution in dots per inch)."""

    data: bytes
    width: int
    length: int
    x_res: float
    y_res: float
    encoding: Encoding

    @property
    def resolution(self) -> Resolution:
        return resolution_name(self.y_res)

    @property
    def height_inches(self) -> float:
        return self.length / self.y_res

    def __repr__(self) -> str:  # keep the bytes out of logs
        return (f"FaxPage({self.width}x{self.length}, {self.x_res:g}x{self.y_res:g} dpi, "
                f"{self.encoding}, {len(self.data)} bytes)")


@dataclass(frozen=True)
class ConversionLimits:
    """Guards against hostile or accidental monsters."""

    max_input_bytes: int = 64 * 1024 * 1024
    """Largest document accepted (each input)."""
    max_pages: int = 500
    """Most fax pages a job may produce (all documents together, cover included)."""
    max_pixels: int = 60_000_000
    """Largest raster image decoded (width x height), against decompression bombs."""
    converter_timeout: float = 120.0
    """Seconds an external converter (LibreOffice) may run for one document."""
    max_unpacked_bytes: int = 512 * 1024 * 1024
    """Largest total uncompressed size of an office (zip) document."""


@dataclass(frozen=True)
class HeaderInfo:
    """The line printed at the top of every page (HylaFAX's TagLine)."""

    station_id: str = ""
    """Sender's fax number as programmed (TSI), e.g. "+1 555 0100"."""
    sender_name: str = ""
    date: dt.datetime | None = None
    """Time printed; None means the moment of conversion."""


@dataclass(frozen=True)
class CoverInfo:
    """Fields of a cover page.  The page count is filled in by the converter."""

    to_name: str = ""
    to_company: str = ""
    to_fax: str = ""
    to_voice: str = ""
    from_name: str = ""
    from_company: str = ""
    from_fax: str = ""
    from_voice: str = ""
    subject: str = ""
    comments: str = ""
    date: dt.datetime | None = None


@dataclass(frozen=True)
class ConversionOptions:
    resolution: Resolution = "fine"
    paper: Paper = "letter"
    encoding: Encoding = "mmr"
    header: HeaderInfo | None = None
    cover: CoverInfo | None = None
    cover_template: Path | None = None
    limits: ConversionLimits = field(default_factory=ConversionLimits)
    trim_trailing_white: bool = True
    """Cut blank rows at the bottom of a page (keeps a short margin)."""
    drop_blank_pages: bool = True
    """Leave out pages with nothing on them (never all pages of a job)."""
