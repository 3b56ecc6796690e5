"""Shared fixtures of the conversion tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.conversion.makers import FONT


@pytest.fixture(scope="session")
def text_bitmap() -> npt.NDArray[np.bool_]:
    """A fine-resolution page of real type (True = black), 1728 x 2200."""
    img = Image.new("L", (1728, 2200), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 22)
    for i in range(55):
        draw.text((120, 40 + i * 38), f"Line {i}: The quick brown fox jumps over 13 lazy dogs.",
                  font=font, fill=0)
    draw.rectangle((100, 2150, 1600, 2153), fill=0)
    return np.asarray(img) < 128
