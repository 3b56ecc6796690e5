"""Raster images (PNG, JPEG, GIF, BMP, non-fax TIFF) to grey fax frames.

Sizes are checked from the header before any pixel is decoded (decompression bombs);
EXIF orientation is applied; transparency is flattened onto white; landscape images are
turned to portrait; the image is fitted to the paper and centred.  The paper white of
scans is normalised so an off-white sheet does not turn grey.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageOps

from umfax.conversion.errors import BrokenDocument, DocumentTooLarge
from umfax.conversion.model import FAX_WIDTH, Paper, Resolution
from umfax.conversion.raster import Gray, place


def _open(name: str, content: bytes, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # damaged metadata is reported, not fatal
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DocumentTooLarge(
            f"{name} is an image of absurd dimensions (a decompression bomb?); "
            "send a normal-sized image") from exc
    except Exception as exc:
        raise BrokenDocument(f"{name} is not a readable image (it is damaged or truncated); "
                             "send a new copy") from exc
    _check_pixels(name, image, max_pixels)
    return image


def _check_pixels(name: str, image: Image.Image, max_pixels: int) -> None:
    w, h = image.size
    if w <= 0 or h <= 0:
        raise BrokenDocument(f"{name} is an empty image")
    if w * h > max_pixels:
        raise DocumentTooLarge(
            f"{name} is {w} x {h} pixels, more than the limit of {max_pixels:,}; "
            "send a smaller image (300 dpi is plenty for fax)")


def _grey(image: Image.Image) -> Image.Image:
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image.convert("I"), dtype=np.float64)
        top = float(arr.max()) or 1.0
        return Image.fromarray((arr * (255.0 / top)).astype(np.uint8), "L")
    return image.convert("L")


def _normalise_white(gray: Gray) -> Gray:
    """Stretch so the paper (the bright end of the histogram) is pure white."""
    sample = gray[::7, ::7]
    paper = float(np.percentile(sample, 90))
    if 120.0 < paper < 250.0:
        lut = np.clip(np.arange(256, dtype=np.float64) * (255.0 / paper), 0, 255)
        return lut.astype(np.uint8)[gray]
    return gray


def frame_from_image(image: Image.Image, paper: Paper, resolution: Resolution) -> Gray:
    image = _grey(image)
    w, h = image.size
    pl = place(w / 100.0, h / 100.0, paper, resolution)
    if pl.rotate:
        image = image.transpose(Image.Transpose.ROTATE_270)
        w, h = h, w
    tw = max(1, min(FAX_WIDTH, round(w / 100.0 * pl.scale_x)))
    th = max(1, min(pl.frame_rows, round(h / 100.0 * pl.scale_y)))
    scaled = image.resize((tw, th), Image.Resampling.LANCZOS, reducing_gap=3.0)
    frame = np.full((pl.frame_rows, FAX_WIDTH), 255, dtype=np.uint8)
    x0 = (FAX_WIDTH - tw) // 2
    y0 = (pl.frame_rows - th) // 2
    frame[y0:y0 + th, x0:x0 + tw] = _normalise_white(np.asarray(scaled))
    return frame


class ImageSource:
    """An image file; multi-page for TIFF, first frame only for animated GIF."""

    def __init__(self, name: str, content: bytes, max_pixels: int, all_frames: bool) -> None:
        self.name = name
        self.max_pixels = max_pixels
        self.image = _open(name, content, max_pixels)
        frames = int(getattr(self.image, "n_frames", 1) or 1) if all_frames else 1
        self.page_count = frames

    def pages(self, paper: Paper, resolution: Resolution) -> Iterator[Gray]:
        for index in range(self.page_count):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if index:
                        self.image.seek(index)
                    _check_pixels(self.name, self.image, self.max_pixels)
                    self.image.load()
            except (DocumentTooLarge, BrokenDocument):
                raise
            except Exception as exc:
                raise BrokenDocument(
                    f"page {index + 1} of {self.name} cannot be decoded (the image is damaged "
                    "or truncated); send a new copy") from exc
            yield frame_from_image(self.image, paper, resolution)
