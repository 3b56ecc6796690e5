"""A PNG preview of a fax page, with the page's true proportions (for notifications)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from umfax.conversion.model import FaxPage
from umfax.conversion.pages import page_bitmap


def bitmap_image(packed: np.ndarray, width: int) -> Image.Image:  # type: ignore[type-arg]
    """A Pillow mode "1" image of packed fax rows (set bit = black)."""
    return Image.frombytes("1", (width, int(packed.shape[0])),
                           np.bitwise_not(packed).tobytes())


def preview_png(page: FaxPage, max_width: int = 600) -> bytes:
    """The page scaled to at most ``max_width`` pixels wide, grey-scale PNG, aspect
    ratio corrected for the page's horizontal and vertical resolution."""
    image = bitmap_image(page_bitmap(page), page.width).convert("L")
    width = max(1, min(max_width, page.width))
    height = max(1, round(width * (page.length / page.y_res) / (page.width / page.x_res)))
    image = image.resize((width, height), Image.Resampling.BOX)
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=False)
    return buf.getvalue()
