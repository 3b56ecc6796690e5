"""The T.4/T.6 decoder against pages coded by libtiff (through Pillow)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from modem.t30.decode import decode_page
from tests.modem.pages import drawing, encode, pixels


def noise(rows: int, seed: int, width: int = 1728) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(((rng.random((rows, width)) > 0.5) * 255).astype(np.uint8)).convert("1")


def wide_runs() -> Image.Image:
    """Runs longer than 1728 pels: extended make-up codes (B4/A3 widths)."""
    img = Image.new("L", (2432, 40), 255)
    d = ImageDraw.Draw(img)
    d.rectangle((0, 10, 2431, 20), fill=0)
    d.rectangle((5, 25, 2400, 30), fill=0)
    return img.convert("1")


@pytest.mark.parametrize("encoding", ["mh", "mr", "mmr"])
@pytest.mark.parametrize("make", [lambda: drawing(300, 3), lambda: noise(60, 1), wide_runs],
                         ids=["drawing", "noise", "wide"])
def test_decodes_to_the_same_pixels(encoding: str, make) -> None:  # type: ignore[no-untyped-def]
    img = make()
    page = encode(img, encoding)  # type: ignore[arg-type]
    d = decode_page(page.data, page.encoding, img.width, keep_rows=True)
    assert d.lines == img.height and d.bad_lines == 0
    assert np.array_equal(d.bitmap(img.width), pixels(img))


@pytest.mark.parametrize("encoding", ["mh", "mr"])
def test_damage_is_counted_and_decoding_resyncs_at_eol(encoding: str) -> None:
    img = drawing(400, 5)
    page = encode(img, encoding)  # type: ignore[arg-type]
    data = bytearray(page.data)
    for i in range(len(data) // 4, len(data), len(data) // 4):
        data[i] ^= 0x5A
    d = decode_page(bytes(data), page.encoding, keep_rows=True)
    assert 0 < d.bad_lines < 20
    assert abs(d.lines - 400) <= 3
    good = np.array_equal(d.bitmap(1728)[:50], pixels(img)[:50])
    assert good  # lines before the damage are intact


def test_mmr_damage_loses_the_rest_of_the_page() -> None:
    img = drawing(200, 6)
    page = encode(img, "mmr")
    data = bytearray(page.data)
    data[len(data) // 2] ^= 0xFF
    d = decode_page(bytes(data), "mmr")
    assert d.bad_lines == 1 and 0 < d.lines < 200


def test_empty_and_blank_input() -> None:
    assert decode_page(b"", "mh").lines == 0
    assert decode_page(b"\x00" * 10, "mr").lines == 0


@pytest.mark.parametrize("encoding", ["mh", "mr", "mmr"])
@pytest.mark.parametrize("make", [lambda: drawing(300, 3), lambda: noise(60, 1), wide_runs,
                                  lambda: drawing(2300, 7)],
                         ids=["drawing", "noise", "wide", "a4-fine"])
def test_libtiff_row_count_agrees_with_the_engines_decoder(encoding: str, make) -> None:  # type: ignore[no-untyped-def]
    """umfax hands the T.30 engine libtiff's row count for ECM pages (no GIL held); it
    must say what the engine's own decoder says, for every coding."""
    from umfax.conversion.codec import count_rows

    img = make()
    page = encode(img, encoding)  # type: ignore[arg-type]
    assert count_rows(page.data, page.encoding, img.width) == img.height
    assert decode_page(page.data, page.encoding, img.width).lines == img.height
    with pytest.raises(ValueError):
        count_rows(b"\x00" * 64, page.encoding, img.width)
