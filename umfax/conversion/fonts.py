"""Fonts for text, cover pages and header lines.

umfax looks first in its own package folder ``umfax/conversion/fonts/`` (drop TTF files
named as below there to override), then in the DejaVu fonts Debian ships in
``fonts-dejavu-core``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PIL import ImageFont

from umfax.conversion.errors import ToolMissing

_FILES = {
    "sans": "DejaVuSans.ttf",
    "sans-bold": "DejaVuSans-Bold.ttf",
    "serif": "DejaVuSerif.ttf",
    "serif-bold": "DejaVuSerif-Bold.ttf",
    "mono": "DejaVuSansMono.ttf",
    "mono-bold": "DejaVuSansMono-Bold.ttf",
}
_DIRS = (
    Path(__file__).parent / "fonts",
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
)

FONT_NAMES = tuple(_FILES)


def font_path(name: str) -> Path:
    filename = _FILES.get(name)
    if filename is None:
        raise ToolMissing(f"unknown font {name!r}; use one of {', '.join(_FILES)}")
    for folder in _DIRS:
        candidate = folder / filename
        if candidate.is_file():
            return candidate
    raise ToolMissing(
        f"the font {filename} is not installed; install the Debian package fonts-dejavu-core")


@functools.lru_cache(maxsize=64)
def font(name: str, pixels: int) -> ImageFont.FreeTypeFont:
    """A font at a size in pixels (cached)."""
    return ImageFont.truetype(str(font_path(name)), max(4, int(pixels)))
