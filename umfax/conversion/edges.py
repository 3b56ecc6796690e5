"""Moving glyph edges by one pixel where the grey render allows it and MH codes it shorter.

Modified Huffman (ITU-T T.4, 4.1.2) codes each row as alternating white and black runs,
and a run's code length depends on its length alone: a black run of 4 pixels costs 3
bits and one of 3 costs 2; a white run of 8 costs 5 bits and one of 7 costs 4.  Moving
the edge between two runs by one pixel changes both lengths by one, and so, often, the
row's length in bits.  Which side of an edge a pixel falls on is, on a page rendered
with aliased text at 98 lines/inch, partly the luck of the glyph's phase against the
pixel grid; where the anti-aliased render of the same page, or the rows above and
below, make either choice faithful, we take the cheaper one.  Three moves are made,
each only where it shortens the two runs' codes, and none removes a run:

* black grows into a white run of :data:`NARROW_GAP` pixels or more where the grey
  render shows ink there (darker than :data:`INK`): a hairline the aliased render drew
  one pixel thin gets its second pixel;
* black grows into a white run of :data:`WIDE_GAP` pixels or more (a word space, the
  margin) where the pixel above or below is black, whatever the grey: the step in an
  edge is filled, no bump is made (bumps on one row saved 0.5 % more, and turned
  "4711" into "4714" in 8 pt type);
* a black run of :data:`THIN_FROM` pixels or more loses an end pixel that the grey
  render shows as nearly paper (:data:`PAPER` or lighter).

On the bench corpus (20 text pages; ``bench/convert.py``) these moves, with the
0.1-inch bottom margin of :func:`umfax.conversion.raster.trim_trailing_white`, cut MH
bytes at standard resolution by 1.6 % and MMR by 1.1 %, for 0.006 of tesseract's
character accuracy (0.921 to 0.915; Ghostscript's is 0.910).  Growing black into
narrow gaps without ink there, or thinning runs whatever the grey says, saves more but
costs 0.01 to 0.02 of accuracy: those are the counters and the gaps between letters.
The edges of a row are decided on its runs as they stand, the even edges first and then
the odd ones, so that no run changes from both sides at once.

The conversion no longer applies these moves (nor :mod:`umfax.conversion.raster`'s
gap closing): on the broader legibility corpus of bench/text_corpus.py they cost
tesseract accuracy on small print and forms, and legibility comes before bytes.
:func:`mh_bits` and the code-length tables remain useful for measuring.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]
Bits = npt.NDArray[np.int16]

NARROW_GAP = 3
"""Pixels: black may grow into a white run this long or longer where the grey shows ink."""
WIDE_GAP = 8
"""Pixels: black may grow into a white run this long or longer to fill a step in an edge."""
INK = 200
"""Grey below this (255 = paper) counts as ink."""
PAPER = 200
"""Grey at or above this counts as paper."""
THIN_FROM = 4
"""Pixels: only black runs this long or longer are thinned (a 3-pixel run codes in 2 bits)."""

# ITU-T T.4, Tables 2 and 3: lengths in bits of the terminating codes (run 0..63) and of
# the make-up codes (runs 64, 128, … 1728), white and black.
_WHITE_TERMINATING = (8, 6, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6) + (7,) * 11 + (8,) * 35
_BLACK_TERMINATING = (10, 3, 2, 2, 3, 4, 4, 5, 6, 6, 7, 7, 7, 8, 8, 9, 10, 10, 10) + (11,) * 7 + (12,) * 38
_WHITE_MAKEUP = (5, 5, 6, 7) + (8,) * 6 + (9,) * 15 + (6, 9)
_BLACK_MAKEUP = (10,) + (12,) * 6 + (13,) * 20
# Table 3 (cont.): the make-up codes shared by both colours for runs of 1792 to 2560.
_EXTENDED_MAKEUP = (11, 11, 11, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12)


def _code_lengths(terminating: tuple[int, ...], makeup: tuple[int, ...], longest: int) -> Bits:
    lengths = np.zeros(longest + 1, dtype=np.int16)
    for run in range(longest + 1):
        bits, rest = 0, run
        while rest >= 2560 + 64:  # longer runs repeat the 2560 make-up code
            bits, rest = bits + _EXTENDED_MAKEUP[-1], rest - 2560
        chunk = rest // 64
        if chunk > 27:
            bits += _EXTENDED_MAKEUP[chunk - 28]
        elif chunk:
            bits += makeup[chunk - 1]
        lengths[run] = bits + terminating[rest % 64]
    return lengths


@functools.cache
def mh_run_bits(width: int) -> Bits:
    """Code lengths in bits, ``[colour, run]`` for colour 0 (white) and 1 (black) and runs
    of 0 to ``width`` pixels, in a Modified Huffman row."""
    table = np.stack(
        [
            _code_lengths(_WHITE_TERMINATING, _WHITE_MAKEUP, width),
            _code_lengths(_BLACK_TERMINATING, _BLACK_MAKEUP, width),
        ]
    )
    table.setflags(write=False)  # cached: shared by every caller
    return table


def mh_bits(black: Mask) -> int:
    """Bits of the page coded in MH with an EOL before every row (no fill, no RTC)."""
    rows, cols = black.shape
    table = mh_run_bits(cols)
    edges = _Edges(black)
    white_first = (edges.nth % 2).astype(np.intp)  # the run before a row's first edge is white
    bits = int(table[white_first, edges.before].sum())
    # each row's last run, up to the right margin (the whole row when it has no edge)
    count = np.bincount(edges.row, minlength=rows)
    last_start = np.zeros(rows, dtype=np.intp)
    last_start[edges.row[edges.last]] = edges.col[edges.last]
    bits += int(table[count % 2, cols - last_start].sum())
    return bits + 12 * int(rows)


class _Edges:
    """Every edge between two runs, row by row: ``col`` is the first pixel of the run
    after it.  A row that starts black has an edge at column 0 (MH codes an empty white
    run first)."""

    def __init__(self, black: Mask) -> None:
        rows, cols = black.shape
        extended = np.zeros((rows, cols + 1), dtype=bool)
        extended[:, 1:] = black
        self.width = int(cols)
        # flatnonzero and divmod: four times faster than a 2-D nonzero on a page
        self.row, self.col = np.divmod(np.flatnonzero(extended[:, 1:] != extended[:, :-1]), cols)
        size = self.row.size
        self.first = np.ones(size, dtype=bool)
        self.first[1:] = self.row[1:] != self.row[:-1]
        self.last = np.ones(size, dtype=bool)
        self.last[:-1] = self.row[1:] != self.row[:-1]
        index = np.arange(size)
        self.nth = index - np.maximum.accumulate(np.where(self.first, index, 0))
        self.measure()

    def measure(self) -> None:
        """(Re)compute the lengths of the runs either side of each edge from ``col``."""
        previous = np.where(self.first, 0, np.roll(self.col, 1))
        following = np.where(self.last, self.width, np.roll(self.col, -1))
        self.before = self.col - previous  # length of the run before the edge
        self.after = following - self.col  # length of the run after it


def cheaper_edges(black: Mask, gray: Gray) -> Mask:
    """Move edges between runs by one pixel where this module's rules allow it and the
    row's MH code gets shorter.  ``gray`` is the anti-aliased render of the same page on
    the same grid (255 = paper)."""
    table = mh_run_bits(black.shape[1] + 1)
    edges = _Edges(black)
    out = black.copy()
    if edges.row.size:
        grey = np.ascontiguousarray(gray).ravel()
        for parity in (0, 1):
            _move_edges(out, grey, table, edges, parity)
    return out


def _move_edges(black: Mask, grey: Gray, table: Bits, edges: _Edges, parity: int) -> None:
    """Move the even (``parity`` 0) or odd edges of every row, in ``black`` and ``edges``.
    Moves never remove a run, so the edges stay the same list, only their columns shift.
    (Pixels are looked up by flat index: 2-D fancy indexing took twice as long; and only
    the edges of this parity are gathered, half the work.)"""
    rows, cols = black.shape
    pixels = black.ravel()  # a view: black is a fresh copy, so contiguous
    ours = np.flatnonzero(((edges.nth % 2) == parity) & (edges.col > 0))
    row, before, after = edges.row[ours], edges.before[ours], edges.after[ours]
    at = row * cols + edges.col[ours]  # the first pixel after each edge
    # the pixels above and below (on the first and last row the pixel itself, which as the
    # other colour than the growing run can never count as support)
    above = np.where(row > 0, at - cols, at)
    below = np.where(row < rows - 1, at + cols, at)
    right = pixels[at]  # colour of the run after the edge (True = black)
    left = ~right
    lc, rc = left.astype(np.intp), right.astype(np.intp)  # colours as table rows
    now = table[lc, before] + table[rc, after]
    # the edge moves right: the run before it takes the pixel at `at` from the run after it
    grow_left = _allowed(left, after, grey[at], pixels[above] | pixels[below])
    # the edge moves left: the run after it takes the pixel at `at - 1` from the run before it
    grow_right = _allowed(right, before, grey[at - 1], pixels[above - 1] | pixels[below - 1])
    # (lengths stay within the table, one longer than a row, for every edge computed)
    saved_left = np.where(grow_left, now - table[lc, before + 1] - table[rc, after - 1], 0)
    saved_right = np.where(grow_right, now - table[lc, before - 1] - table[rc, after + 1], 0)
    take_left = (saved_left > 0) & (saved_left >= saved_right)
    take_right = (saved_right > 0) & ~take_left
    pixels[at[take_left]] = left[take_left]
    pixels[at[take_right] - 1] = right[take_right]
    edges.col[ours[take_left]] += 1
    edges.col[ours[take_right]] -= 1
    edges.measure()


def _allowed(grower_black: Mask, shrinking: npt.NDArray[np.intp], grey: Gray, supported: Mask) -> Mask:
    """May a run of colour ``grower_black`` take one pixel from its neighbour of length
    ``shrinking``?  ``grey`` is that pixel's level in the grey render, ``supported`` whether
    the pixel above or below it is black."""
    over_ink = grower_black & (shrinking >= NARROW_GAP) & (grey < INK)
    filling_step = grower_black & (shrinking >= WIDE_GAP) & supported
    thinning = ~grower_black & (shrinking >= THIN_FROM) & (grey >= PAPER)
    return over_ink | filling_step | thinning
