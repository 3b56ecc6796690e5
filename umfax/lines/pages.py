"""Stored fax pages to what a line sends, and re-coding for a far end that needs it."""

from __future__ import annotations

import numpy as np

from modem.api import Encoding, PageImage
from umfax.conversion import FaxPage, page_bitmap, page_from_t4, t4_strip, tiff_to_pages
from umfax.conversion.pages import page_from_bitmap
from umfax.store.models import Page


def page_image(page: Page) -> PageImage:
    (fax_page,) = tiff_to_pages(page.data)
    return _image(fax_page)


def _image(page: FaxPage) -> PageImage:
    return PageImage(
        data=t4_strip(page),
        width=page.width,
        length=page.length,
        encoding=page.encoding,
        x_res=page.x_res,
        y_res=page.y_res,
    )


def recode_image(image: PageImage, encoding: Encoding, y_res: float) -> PageImage:
    """``image`` coded as ``encoding`` at ``y_res`` lines per inch (at most the image's own).

    Halving the vertical resolution ORs each pair of rows, so that one-row strokes of a
    fine page (table rules, the bar of an 'e') survive at standard resolution.
    """
    if image.encoding == encoding and image.y_res <= y_res + 1:
        return image
    page = page_from_t4(image.data, image.width, image.length, image.encoding, image.x_res, image.y_res)
    bitmap = page_bitmap(page)
    new_y = image.y_res
    while new_y > y_res + 1 and bitmap.shape[0] > 1:
        if bitmap.shape[0] % 2:
            bitmap = np.vstack([bitmap, np.zeros((1, bitmap.shape[1]), dtype=bitmap.dtype)])
        bitmap = bitmap[0::2] | bitmap[1::2]
        new_y /= 2
    return _image(page_from_bitmap(bitmap, encoding, new_y, image.x_res))
