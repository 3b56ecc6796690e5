"""T.4 stream helpers: EOL scan, fill bits for the minimum scan-line time, RTC."""

from __future__ import annotations

import numpy as np
import pytest

from modem.hdlc import bit_reverse
from modem.t30 import t4
from tests.modem.pages import decode, drawing, encode, pixels


@pytest.mark.parametrize("encoding", ["mh", "mr"])
@pytest.mark.parametrize("min_bits", [0, 96, 288, 1000])
def test_fill_gives_every_line_the_minimum_and_decodes_the_same(encoding: str,
                                                                min_bits: int) -> None:
    img = drawing(150, 21)
    page = encode(img, encoding)  # type: ignore[arg-type]
    wire = t4.prepare_non_ecm(page.data, page.encoding, min_bits)
    bits = t4.unpack(wire, msb_first=False)
    ends = t4.eol_ends(bits)
    tag = 1 if encoding == "mr" else 0
    assert len(ends) == 150 + 6  # one EOL per line, then RTC
    seg = np.diff(ends)[: 150 - 1]  # line k: end of EOL k to end of EOL k+1
    assert seg.min() >= min_bits
    assert np.all(np.diff(ends)[-5:] == 12 + tag)  # RTC: six EOLs back to back
    data, lines, rtc = t4.parse_non_ecm(wire, page.encoding)
    assert rtc and lines == 150
    got = decode(type(page)(data, page.width, lines, page.encoding, page.x_res, page.y_res))
    assert np.array_equal(got, pixels(img))


def test_existing_rtc_is_not_doubled() -> None:
    page = encode(drawing(40, 22), "mh")
    with_rtc = page.data + t4.pack(t4.rtc_bits("mh"), msb_first=True)
    a = t4.prepare_non_ecm(page.data, "mh", 0)
    b = t4.prepare_non_ecm(with_rtc, "mh", 0)
    assert len(t4.eol_ends(t4.unpack(b, msb_first=False))) == len(
        t4.eol_ends(t4.unpack(a, msb_first=False)))
    assert t4.count_lines(with_rtc, "mh") == 40 == t4.count_lines(page.data, "mh")


def test_receive_drops_training_junk_and_handles_missing_rtc() -> None:
    page = encode(drawing(30, 23), "mh")
    wire = t4.prepare_non_ecm(page.data, "mh", 0)
    junk = b"\xff\xff\x0f"  # idle ones before the first EOL
    _data, lines, rtc = t4.parse_non_ecm(junk + wire, "mh")
    assert rtc and lines == 30
    cut = wire[: len(wire) // 2]  # carrier lost mid-page: no RTC
    _, lines2, rtc2 = t4.parse_non_ecm(cut, "mh")
    assert not rtc2 and 0 < lines2 < 30
    assert t4.parse_non_ecm(b"\xff" * 40, "mh") == (b"", 0, False)


def test_mmr_is_refused_without_ecm() -> None:
    with pytest.raises(ValueError):
        t4.prepare_non_ecm(b"\x00", "mmr", 0)


def test_line_order_is_bit_reversed_fill_order_1() -> None:
    page = encode(drawing(10, 24), "mh")
    wire = t4.prepare_non_ecm(page.data, "mh", 0)
    assert wire.startswith(bit_reverse(page.data[:-1]))
