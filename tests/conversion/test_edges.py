"""Edges moved by one pixel where MH codes them shorter (umfax.conversion.edges)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from umfax.conversion import codec
from umfax.conversion.edges import INK, PAPER, cheaper_edges, mh_bits, mh_run_bits

Mask = npt.NDArray[np.bool_]


def random_page(seed: int, rows: int = 60, cols: int = 1728) -> Mask:
    """Rows of alternating runs, short (glyphs), medium and long (margins, rules)."""
    rng = np.random.default_rng(seed)
    black = np.zeros((rows, cols), dtype=bool)
    for r in range(rows):
        c, colour = 0, bool(rng.integers(2))
        while c < cols:
            length = int(rng.choice([rng.integers(1, 20), rng.integers(1, 200), rng.integers(1, cols)]))
            black[r, c : c + length] = colour
            c, colour = c + length, not colour
    black[0] = False  # a blank row: one white run of 1728 (make-up code and a zero run)
    black[1] = True  # a black row: an empty white run first
    return black


@pytest.mark.parametrize("seed", range(6))
def test_mh_bits_is_what_libtiff_writes(seed: int) -> None:
    """The code-length tables agree with the real MH coder, bit for bit over a page."""
    page = random_page(seed)
    strip = codec.encode(np.packbits(page, axis=1), page.shape[1], "mh")
    assert (mh_bits(page) + 7) // 8 == len(strip)


def test_code_lengths_from_t4() -> None:
    table = mh_run_bits(5200)
    white, black = table
    assert [white[n] for n in (0, 1, 2, 7, 8, 12, 18, 29, 63)] == [8, 6, 4, 4, 5, 6, 7, 8, 8]
    assert [black[n] for n in (0, 1, 2, 3, 4, 5, 7, 8, 15, 25, 26)] == [10, 3, 2, 2, 3, 4, 5, 6, 9, 11, 12]
    assert white[1664] == 6 + 8 and white[1728] == 9 + 8  # make-up 1664 is short
    assert black[64] == 10 + 10 and black[1728] == 13 + 10
    assert white[1792] == 11 + 8 and white[2600] == 12 + 8  # make-up codes shared by both colours
    assert white[5200] == 12 + 12 + 5 + 6  # 2560, 2560, 64, then 16


def row(pattern: str) -> Mask:
    return np.array([[c == "#" for c in pattern]])


def grey(levels: list[int]) -> npt.NDArray[np.uint8]:
    return np.array([levels], dtype=np.uint8)


def text(bitmap: Mask) -> str:
    return "".join("#" if v else "." for v in bitmap[0])


def test_thick_run_loses_an_end_the_grey_shows_as_paper() -> None:
    before = ".." + "####" + "..."  # black 4 (3 bits) and white 3: black 3 codes in 2
    levels = [255, 255, 40, 40, 40, PAPER, 255, 255, 255]
    assert text(cheaper_edges(row(before), grey(levels))) == "..###...."
    inky = [255, 255, 40, 40, 40, PAPER - 1, 255, 255, 255]
    assert text(cheaper_edges(row(before), grey(inky))) == before


def rows(*patterns: str) -> Mask:
    return np.array([[c == "#" for c in p] for p in patterns])


def test_a_step_beside_a_word_space_is_filled_but_no_bump_is_made() -> None:
    before = rows(
        "###" + "." * 11 + "##",
        "##" + "." * 12 + "##",  # white 12 costs 6 bits, white 11 costs 5
        "##" + "." * 12 + "##",
    )
    paper = np.full(before.shape, 255, dtype=np.uint8)
    after = cheaper_edges(before, paper)
    assert ["".join("#" if v else "." for v in r) for r in after] == [
        "###" + "." * 11 + "##",
        "###" + "." * 11 + "##",  # the step under the first row is filled
        "##" + "." * 12 + "##",  # nothing above or below: a pixel here would be a bump
    ]


def test_black_grows_into_a_narrow_gap_only_over_ink() -> None:
    before = "..#....##.."  # black 1 costs 3 bits, black 2 costs 2; white 4 and 3 cost 4
    assert text(cheaper_edges(row(before), grey([255] * len(before)))) == before
    inked = grey([255, 255, 40, INK - 1] + [255] * 7)
    assert text(cheaper_edges(row(before), inked)) == "..##...##.."


def test_counters_and_letter_gaps_stay_on_paper() -> None:
    """Without ink in the grey render, gaps under WIDE_GAP and black runs under 4 stay."""
    before = "..##.....#..###...#...##.."
    assert text(cheaper_edges(row(before), grey([255] * len(before)))) == before


@pytest.mark.parametrize("seed", range(4))
def test_moves_only_shorten_the_code_and_keep_every_run(seed: int) -> None:
    page = random_page(seed, rows=200)
    rng = np.random.default_rng(seed + 100)
    levels = rng.integers(0, 256, page.shape).astype(np.uint8)
    moved = cheaper_edges(page, levels)
    assert np.count_nonzero(moved != page) > 0
    assert mh_bits(moved) < mh_bits(page)
    runs = np.count_nonzero(np.diff(page.astype(np.int8), axis=1), axis=1)
    assert np.array_equal(np.count_nonzero(np.diff(moved.astype(np.int8), axis=1), axis=1), runs)
    # every changed pixel sits next to an edge of the original row and obeys the grey
    rows_, cols_ = np.nonzero(moved != page)
    left = page[rows_, np.maximum(cols_ - 1, 0)] != page[rows_, cols_]
    right = page[rows_, np.minimum(cols_ + 1, page.shape[1] - 1)] != page[rows_, cols_]
    assert np.all(left | right)
    thinned = page[rows_, cols_]
    assert np.all(levels[rows_[thinned], cols_[thinned]] >= PAPER)
    grown = ~thinned
    r, c = rows_[grown], cols_[grown]
    supported = page[np.maximum(r - 1, 0), c] | page[np.minimum(r + 1, page.shape[0] - 1), c]
    assert np.all((levels[r, c] < INK) | supported)
