"""Re-coding pages for a far end that cannot take them as stored."""

from __future__ import annotations

import numpy as np
import pytest

from umfax.conversion import ConversionOptions, convert_documents, page_bitmap, page_from_t4
from umfax.lines.pages import page_image, recode_image
from umfax.store.models import Page

TEXT = b"Invoice 2026-11\n" + b"Item   Qty   Price\n" * 30


@pytest.fixture(scope="module")
def fine_page() -> Page:
    (page,) = convert_documents([("invoice.txt", TEXT)], ConversionOptions(resolution="fine", encoding="mmr"))
    return Page(seq=1, width=page.width, length=page.length, x_res=page.x_res, y_res=page.y_res,
                encoding=page.encoding, data=page.data)


def bits(image: object) -> np.ndarray:
    from modem.api import PageImage

    assert isinstance(image, PageImage)
    return page_bitmap(page_from_t4(image.data, image.width, image.length, image.encoding, image.x_res,
                                    image.y_res))


@pytest.mark.parametrize("encoding", ["mh", "mr", "mmr"])
def test_recode_keeps_every_pixel(fine_page: Page, encoding: str) -> None:
    image = page_image(fine_page)
    again = recode_image(image, encoding, image.y_res)  # type: ignore[arg-type]
    assert again.encoding == encoding
    assert np.array_equal(bits(again), bits(image))


def test_fine_to_standard_ors_row_pairs(fine_page: Page) -> None:
    image = page_image(fine_page)
    standard = recode_image(image, "mh", 98)
    assert standard.y_res == pytest.approx(98, abs=1)
    original = bits(image)
    if original.shape[0] % 2:
        original = np.vstack([original, np.zeros((1, original.shape[1]), np.uint8)])
    assert np.array_equal(bits(standard), original[0::2] | original[1::2])
    assert original.any()


def test_page_already_right_is_passed_through(fine_page: Page) -> None:
    image = page_image(fine_page)
    assert recode_image(image, "mmr", 196) is image
