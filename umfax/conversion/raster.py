"""Page geometry and the grey-to-bilevel step.

Every renderer produces a grey frame (uint8, 255 = white) of exactly the fax page:
1728 columns by the paper's length in lines at the *render* resolution.  Standard
resolution (98 lines/inch) is rendered at 196 lines/inch and folded, two rows into one
(see :func:`to_fax_bitmap`).  PDF pages at standard resolution are instead drawn
straight at 98 lines/inch with aliased (hinted) text, which reads far better there than
any threshold of an anti-aliased render (see :func:`crisp_bitmap`; pages with images are
also drawn anti-aliased at 196, for their photographs); at fine and superfine
they are drawn aliased at the output resolution and kept as drawn (see
:func:`aliased_bitmap`).

Bilevel conversion of anti-aliased frames (text files, images, scans): text and line art
are smoothed, thresholded and despeckled (see :func:`binarize`), which keeps small type
and thin rules legible.  In every frame, regions that look like photographs are
halftoned with a clustered-dot ordered dither, whose regular dots code compactly in
MH/MR/MMR (error diffusion codes larger than no compression at all).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from umfax.conversion.model import (
    FAX_WIDTH,
    LINES_PER_INCH,
    PAPER_MM,
    SCAN_WIDTH_MM,
    X_DPI,
    Paper,
    Resolution,
)

Gray = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]

TEXT_THRESHOLD = 150
"""Grey levels below this (after smoothing) are black in text regions of anti-aliased
frames (text files, images) at fine and superfine (measured when PDF pages were still
drawn so: tesseract on the bench's business pages at fine read 0.903 at 130, 0.964 at
140, 0.971 at 150, 0.923 at 165)."""
STANDARD_THRESHOLD = 175
"""The same at standard resolution (rows averaged in pairs, smoothed along rows)."""
RASTER_THRESHOLD = 170
"""Fine/superfine threshold for raster inputs (scans, images): their strokes arrive
already blurred by the scanner and by resampling, so a higher cut keeps i-dots and
hairlines (tesseract on the bench scan: 0.992 at 140, 1.000 at 170)."""
CRISP_THRESHOLD = 200
"""Grey levels below this are black in a render drawn with aliased text: glyphs arrive
pure black, so the cut only matters for coloured or grey text and line art (kept down
to light grey)."""
BRIDGE_THRESHOLD = 150
"""A white pixel of the crisp frame turns black where the anti-aliased render is darker
than this and the pixel joins two diagonal black neighbours (see :func:`bridge_dropouts`)."""
PHOTO_BLOCK = 24
"""Side, in pixels, of the blocks classified as photo or text."""

MM_PER_INCH = 25.4


def crisp_lines_per_inch(resolution: Resolution) -> float | None:
    """Vertical resolution at which a PDF page is drawn with aliased text for the text
    layer, or None when the anti-aliased render serves alone (fine and superfine)."""
    return LINES_PER_INCH["standard"] if resolution == "standard" else None


def render_lines_per_inch(resolution: Resolution) -> float:
    """Vertical resolution renderers draw at (standard is drawn fine, then folded)."""
    return LINES_PER_INCH["fine"] if resolution == "standard" else LINES_PER_INCH[resolution]


def frame_rows(paper: Paper, lines_per_inch: float) -> int:
    return round(PAPER_MM[paper][1] / MM_PER_INCH * lines_per_inch)


@dataclass(frozen=True)
class Placement:
    """Where content of a given physical size lands on the render frame."""

    scale_x: float  # pixels per inch of content, horizontally
    scale_y: float
    offset_x: float  # pixels
    offset_y: float
    frame_rows: int
    rotate: bool  # content turned 90 degrees clockwise to fit portrait


PAPER_WIDTH_SLACK = PAPER_MM["letter"][0] / PAPER_MM["a4"][0]
"""How much narrower than true size (1.028: Letter on A4's line) content may be drawn
while its height stays true size (see :func:`place`'s ``true_height``)."""


def place(width_in: float, height_in: float, paper: Paper, resolution: Resolution,
          allow_rotate: bool = True, lines_per_inch: float | None = None,
          true_height: bool = False) -> Placement:
    """Scale content (inches) to fit the paper, centred, with the paper's width filling
    the fax line.

    The paper's width is mapped onto the 1728-pixel line, as HylaFAX does with
    Ghostscript (A4 at 209 dpi across): a receiver prints the full line across its
    paper, so A4 comes out true size on A4.  Content of another size is scaled to fit
    the paper and centred (Letter on A4 is narrowed slightly, never dropped in a corner).
    ``lines_per_inch`` overrides the render resolution of ``resolution``.

    ``true_height`` (PDF pages at standard resolution): content that only needs
    narrowing by at most the difference between the Letter and A4 widths
    (:data:`PAPER_WIDTH_SLACK`), and whose height fits the paper, keeps its true
    height: only its width is scaled.  At 98 lines/inch rows are the scarce dimension
    (8 pt digits are 7-8 rows tall and the font hinter rounds each glyph to whole rows):
    shrinking a Letter page's height by 2.7 % as well took a whole row off them (an 8
    drawn boxy and read as 3 or 9), where Ghostscript, with HylaFAX's arguments, draws
    Letter at true size on A4 (cutting its right edge off).  The page's proportions
    change by at most 2.8 %.  At fine a glyph has twice the rows, 2.7 % of its height
    is under half a row, and the changed proportions read no better (tesseract on
    bench/text_corpus.py's Letter pages: business 0.0002-0.008 worse), so it is not
    asked for there.
    """
    rotate = allow_rotate and width_in > height_in * 1.05
    if rotate:
        width_in, height_in = height_in, width_in
    lpi = lines_per_inch or render_lines_per_inch(resolution)
    rows = frame_rows(paper, lpi)
    paper_w_in = min(PAPER_MM[paper][0], SCAN_WIDTH_MM) / MM_PER_INCH
    paper_h_in = PAPER_MM[paper][1] / MM_PER_INCH
    width_in = max(width_in, 1e-3)
    height_in = max(height_in, 1e-3)
    fit = min(paper_w_in / width_in, paper_h_in / height_in)
    if 1.0 < fit < 1.005:
        fit = 1.0  # the paper's own size (rounded in the PDF): true size
    fit_down = fit
    # 0.999: a Letter page's width in millimetres rounded in the PDF still counts
    if true_height and fit < 1.0 <= paper_h_in / height_in and fit * PAPER_WIDTH_SLACK >= 0.999:
        fit_down = 1.0  # narrowed across only
    stretch = SCAN_WIDTH_MM / MM_PER_INCH / paper_w_in
    sx = X_DPI * fit * stretch
    sy = lpi * fit_down
    return Placement(
        scale_x=sx, scale_y=sy,
        offset_x=(FAX_WIDTH - width_in * sx) / 2.0,
        offset_y=(rows - height_in * sy) / 2.0,
        frame_rows=rows, rotate=rotate,
    )


def fold_rows(gray: Gray) -> Gray:
    """Halve the rows, averaging each pair (196 -> 98 lines/inch): the same as drawing
    at 98 lines/inch with area coverage, which keeps photo tone true."""
    rows = gray.shape[0] - gray.shape[0] % 2
    pair = gray[0:rows:2].astype(np.uint16) + gray[1:rows:2]
    return ((pair + 1) >> 1).astype(np.uint8)


@functools.lru_cache(maxsize=8)
def _screen(cell_w: int, cell_h: int) -> Gray:
    """Clustered-dot threshold matrix: round dots growing from each cell's centre, on a
    2x2 supercell whose four cells take turns to grow (four times the grey levels of
    one cell at the same dot period)."""
    ys = (np.arange(cell_h) + 0.5) / cell_h - 0.5
    xs = (np.arange(cell_w) + 0.5) / cell_w - 0.5
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    spot = xx * xx + yy * yy + 1e-6 * (xx + 2 * yy)  # tie-break deterministically
    order = np.argsort(np.argsort(spot.ravel(), kind="stable"), kind="stable")
    order = order.reshape(cell_h, cell_w)
    n = cell_w * cell_h
    turn = np.array([[0, 2], [3, 1]])
    super_cell = np.zeros((2 * cell_h, 2 * cell_w))
    for i in range(2):
        for j in range(2):
            rank = order * 4 + turn[i, j]
            super_cell[i * cell_h:(i + 1) * cell_h, j * cell_w:(j + 1) * cell_w] = rank
    # Pixel of rank k turns black when the grey level is below its threshold.
    thresholds = 255.0 - (super_cell + 0.5) * 255.0 / (4 * n)
    return np.clip(np.round(thresholds), 1, 254).astype(np.uint8)


@functools.lru_cache(maxsize=8)
def _screen_frame(rows: int, lines_per_inch: float) -> Gray:
    cell_w = 6
    cell_h = max(2, round(6 * lines_per_inch / X_DPI))
    cell = _screen(cell_w, cell_h)
    reps = (rows // cell.shape[0] + 1, FAX_WIDTH // cell.shape[1] + 1)
    tiled = np.tile(cell, reps)[:rows, :FAX_WIDTH]
    return np.ascontiguousarray(tiled)


PAPER_SHARE = 0.3
"""Fraction of a page's pixels within :data:`PAPER_SPREAD` levels of its commonest light
level above which that level is taken as the paper (see :func:`paper_white_point`)."""
PAPER_SPREAD = 12
"""Grey levels either side of the paper's level that still count as paper (scanner noise)."""


def paper_white_point(gray: Gray) -> int | None:
    """The grey level that should print as white on a page whose paper is toned (a scan on
    grey or yellowed paper), or None when the paper is white already or cannot be told.

    The paper is the commonest level in the light half short of pure white (the frame
    around content of another paper size is 255), if at least :data:`PAPER_SHARE` of
    the page lies within :data:`PAPER_SPREAD` levels of it (a photograph spreads its tones
    wider); the white point is that level plus the spread, so that the paper's noise goes
    white too.  Without this, toned paper is mid-grey: the photo detector halftones the
    whole page (text in a dot screen reads worst of all) and a threshold turns the noise
    into specks."""
    sample = gray[::4, ::4]
    counts = np.bincount(sample.ravel(), minlength=256)
    level = 128 + int(np.argmax(counts[128:255]))  # 255: the frame's margins, not the paper
    near = int(counts[max(0, level - PAPER_SPREAD):level + PAPER_SPREAD + 1].sum())
    white = level + PAPER_SPREAD
    if white >= 250 or near < PAPER_SHARE * sample.size:
        return None
    return white


def whiten_paper(gray: Gray, white: int) -> Gray:
    """Stretch grey levels linearly so that ``white`` and lighter become 255 (paper)."""
    lut = np.minimum(255, (np.arange(256) * 255 + white // 2) // white).astype(np.uint8)
    return lut[gray]


def photo_mask(gray: Gray) -> Mask | None:
    """Blocks that look like continuous tone (many mid-grey pixels); None if none do."""
    b = PHOTO_BLOCK
    rows = gray.shape[0] - gray.shape[0] % b
    cols = gray.shape[1] - gray.shape[1] % b
    g = gray[:rows, :cols]
    mid = (g > 40) & (g < 215)
    frac = mid.reshape(rows // b, b, cols // b, b).mean(axis=(1, 3))
    strong = frac > 0.5
    if not strong.any():
        return None
    weak = frac > 0.2
    grown = strong.copy()
    grown[1:] |= strong[:-1] & weak[1:]
    grown[:-1] |= strong[1:] & weak[:-1]
    grown[:, 1:] |= strong[:, :-1] & weak[:, 1:]
    grown[:, :-1] |= strong[:, 1:] & weak[:, :-1]
    mask = np.zeros(gray.shape, dtype=bool)
    mask[:rows, :cols] = np.repeat(np.repeat(grown, b, axis=0), b, axis=1)
    return mask


def smooth(gray: Gray, along_rows_only: bool = False) -> Gray:
    """A binomial blur, 3x3 (1 2 1 / 2 4 2 / 1 2 1, over 16) or along rows only (1 2 1,
    over 4), rounded to nearest, the outermost rows and columns left as they are.

    The same pixels as Pillow's ``ImageFilter.Kernel`` with those weights (checked in
    tests/conversion/test_raster.py), in 9 ms instead of 23 on a fine page: the kernel is
    separable, so two passes of in-place 16-bit adds."""
    wide = gray.astype(np.uint16)
    middle = wide[:, 1:-1]
    rows_sum = wide[:, :-2] + wide[:, 2:]
    rows_sum += middle
    rows_sum += middle
    out = gray.copy()
    if along_rows_only:
        rows_sum += 2
        rows_sum >>= 2
        out[1:-1, 1:-1] = rows_sum[1:-1]
        return out
    both = rows_sum[:-2] + rows_sum[2:]
    middle = rows_sum[1:-1]
    both += middle
    both += middle
    both += 8
    both >>= 4
    out[1:-1, 1:-1] = both
    return out


def despeckle(black: Mask) -> Mask:
    """Flip pixels that differ from equal left and right neighbours (1-pixel specks and
    1-pixel gaps): they cost two runs each and carry no legibility."""
    out = black.copy()
    mid = black[:, 1:-1]
    left = black[:, :-2]
    flip = (left == black[:, 2:]) & (mid != left)
    out[:, 1:-1] = np.where(flip, left, mid)
    return out


RULE_THRESHOLD = 175
"""Grey levels below this in the folded render can restore a rule (see :func:`restore_rules`)."""
RULE_MIN_LENGTH = 12
"""Pixels: a restored stretch must be at least this long (text fringes are shorter)."""


def restore_rules(black: Mask, gray: Gray) -> Mask:
    """Put back thin horizontal rules that the aliased render at 98 lines/inch dropped.

    A 0.5 pt rule is 0.68 of a row at standard resolution: drawn without anti-aliasing it
    vanishes whenever it covers no pixel centre.  The render at 196 lines/inch always has
    it, folded to grey in one or two rows (``gray``).  Where that grey is dark enough, the
    crisp frame is white there and in the rows above and below (nothing of the rule
    survived), and the stretch runs at least :data:`RULE_MIN_LENGTH` pixels along the
    row, the row is made black: a dropped rule, underline or table border, not the fringe
    of a glyph."""
    rows, cols = black.shape
    padded = np.zeros((rows + 2, cols), dtype=bool)
    padded[1:-1] = black
    candidate = (gray < RULE_THRESHOLD) & ~black & ~padded[:-2] & ~padded[2:]
    # keep runs of RULE_MIN_LENGTH or more along each row (erode, then dilate, along rows),
    # on the rows that have a candidate at all
    some = np.flatnonzero(candidate.any(axis=1))
    if not some.size:
        return black
    candidate = candidate[some]
    length = RULE_MIN_LENGTH
    core = candidate[:, : cols - length + 1].copy()
    for k in range(1, length):
        core &= candidate[:, k : cols - length + 1 + k]
    kept = np.zeros_like(candidate)
    for k in range(length):
        kept[:, k : cols - length + 1 + k] |= core
    out = black.copy()
    out[some] |= kept
    return out


def bridge_dropouts(black: Mask, gray: Gray, threshold: int = BRIDGE_THRESHOLD) -> Mask:
    """Turn black the white pixels that the anti-aliased render ``gray`` (same geometry)
    shows well covered and that join two diagonal black neighbours (above left and below
    right, or above right and below left).

    Aliased rendering has no dropout control: where a thin diagonal stroke passes between
    pixel centres at 98 lines/inch it breaks into pixels that touch only at corners.
    Filling between left and right or above and below neighbours as well (which rejoins
    the arch of a small n to its stem) closed counters and merged letters of small print
    and forms on the bench's corpus (bench/text_corpus.py) and is not done.  The threshold
    is a compromise found by tesseract on 8 pt Helvetica (tests.conversion.test_convert).
    """
    rows, cols = black.shape
    padded = np.zeros((rows + 2, cols + 2), dtype=bool)
    padded[1:-1, 1:-1] = black

    def at(dy: int, dx: int) -> Mask:
        return padded[1 + dy:1 + dy + rows, 1 + dx:1 + dx + cols]

    joins = (at(-1, -1) & at(1, 1)) | (at(-1, 1) & at(1, -1))
    return black | (joins & (gray[:rows, :cols] < threshold))


def crisp_bitmap(crisp: Gray, gray: Gray | None, detect_photos: bool) -> Mask:
    """Bilevel page from a render drawn with aliased text at 98 lines/inch (``crisp``)
    and, on pages with images, the anti-aliased render of the same page at 196
    lines/inch (``gray``; None on other pages: the crisp frame is then kept as drawn).

    Aliased glyphs are hinted to the pixel grid by the font engine: stems, bars and
    counters land whole on pixels, where a threshold of an anti-aliased render smears
    them over two rows and either drops a bar or closes a counter.  Thin rules cannot
    vanish from the crisp frame: their strokes are widened to whole pixels before it is
    drawn (:mod:`umfax.conversion.pdf_strokes`).  Where ``gray`` is given, a thin line that
    the crisp frame still lost (one inside an image, sampled at 98 lines/inch) is put
    back from it (:func:`restore_rules`) and diagonal dropouts are bridged
    (:func:`bridge_dropouts`).
    Nothing else is changed: the pixel tricks that once saved bytes here (closing narrow
    gaps and notches, moving edges where MH codes them shorter) cost tesseract
    legibility on the bench's broader corpus (bench/text_corpus.py: small print 0.03 and
    forms 0.01 of character accuracy below Ghostscript's), for 8-10 % of bytes, and were
    removed.  On pages with images the paper is whitened first (:func:`paper_white_point`)
    and photo regions of ``gray`` are halftoned as in :func:`to_fax_bitmap`.
    """
    if gray is None:
        black: Mask = crisp < CRISP_THRESHOLD
        return black
    folded = fold_rows(gray)
    if detect_photos:
        white = paper_white_point(folded)
        if white is not None:
            folded, crisp = whiten_paper(folded, white), whiten_paper(crisp, white)
    rows = min(folded.shape[0], crisp.shape[0])
    black = np.zeros(crisp.shape, dtype=bool)
    bridged = bridge_dropouts(crisp[:rows] < CRISP_THRESHOLD, folded[:rows])
    black[:rows] = restore_rules(bridged, folded[:rows])
    if detect_photos:
        mask = photo_mask(folded[:rows])
        if mask is not None:
            screen = _screen_frame(rows, LINES_PER_INCH["standard"])
            black[:rows] = np.where(mask, folded[:rows] < screen, black[:rows])
    return black


def aliased_bitmap(gray: Gray, lines_per_inch: float, detect_photos: bool) -> Mask:
    """Bilevel page from a render drawn with aliased text at the output resolution (PDF
    pages at fine and superfine): glyphs arrive black on white, hinted to the grid, and
    are kept as drawn (:data:`CRISP_THRESHOLD`); smoothing and re-thresholding them, as
    :func:`binarize` does for anti-aliased frames, thinned 6-7 pt type until tesseract
    read 0.90 of it against Ghostscript's 0.99.  On pages with images the paper is
    whitened (:func:`paper_white_point`) and photo regions are halftoned."""
    if detect_photos:
        white = paper_white_point(gray)
        if white is not None:
            gray = whiten_paper(gray, white)
    black: Mask = gray < CRISP_THRESHOLD
    if detect_photos:
        mask = photo_mask(gray)
        if mask is not None:
            screen = _screen_frame(gray.shape[0], lines_per_inch)
            black = np.where(mask, gray < screen, black)
    return black


def binarize(gray: Gray, lines_per_inch: float, detect_photos: bool,
             threshold: int = TEXT_THRESHOLD, text_gray: Gray | None = None) -> Mask:
    """Black (True) / white bitmap of a grey frame.

    Text and line art: smooth, threshold, despeckle.  Smoothing before the threshold
    rounds jagged glyph outlines and keeps hairlines (their grey survives the blur),
    which both reads better and codes smaller; despeckling removes the isolated pixels
    that each cost two coded runs.  Photo blocks: clustered-dot screen.
    ``text_gray``, if given, is the already smoothed grey used for text.
    """
    smoothed = smooth(gray) if text_gray is None else text_gray
    black: Mask = despeckle(smoothed < threshold)
    if detect_photos:
        mask = photo_mask(gray)
        if mask is not None:
            screen = _screen_frame(gray.shape[0], lines_per_inch)
            black = np.where(mask, gray < screen, black)
    return black


def to_fax_bitmap(gray: Gray, resolution: Resolution, detect_photos: bool,
                  raster_input: bool = False) -> Mask:
    """Grey render frame (drawn at :func:`render_lines_per_inch`) to a bilevel page at
    ``resolution``.

    At standard resolution a pixel is twice as tall as wide: rows are averaged in pairs
    (the same as drawing at 98 lines/inch with area coverage: true photo tone, and the
    hairlines of small type keep some grey), smoothed along the rows only, and cut at a
    higher threshold.  Folding by "darker wins" or blurring vertically were tried and
    read worse: they close the counters of e and a at 7-8 pt.  Where photos are looked
    for (raster inputs, PDF pages with images), toned paper is whitened first.
    """
    if detect_photos:
        white = paper_white_point(gray)
        if white is not None:
            gray = whiten_paper(gray, white)
    if resolution == "standard":
        folded = fold_rows(gray)
        return binarize(folded, LINES_PER_INCH["standard"], detect_photos,
                        STANDARD_THRESHOLD, text_gray=smooth(folded, along_rows_only=True))
    threshold = RASTER_THRESHOLD if raster_input else TEXT_THRESHOLD
    return binarize(gray, LINES_PER_INCH[resolution], detect_photos, threshold)


def pack(black: Mask) -> npt.NDArray[np.uint8]:
    return np.packbits(black, axis=1)


def is_blank(packed: npt.NDArray[np.uint8]) -> bool:
    """Nothing on the page but isolated specks (dust on a scan)."""
    rows_with_ink = np.flatnonzero(packed.any(axis=1))
    if rows_with_ink.size == 0:
        return True
    if rows_with_ink.size > 200:
        return False
    black = np.unpackbits(packed[rows_with_ink], axis=1).astype(bool)
    # keep pixels with a black 4-neighbour (within the rows that have ink)
    neighbour = np.zeros_like(black)
    neighbour[:, 1:] |= black[:, :-1]
    neighbour[:, :-1] |= black[:, 1:]
    return int(np.count_nonzero(black & neighbour)) < 12


def trim_trailing_white(packed: npt.NDArray[np.uint8], lines_per_inch: float,
                        keep_inches: float = 0.1,
                        min_inches: float = 1.0) -> npt.NDArray[np.uint8]:
    """Drop blank rows at the bottom, keeping a small margin and a minimum length.

    Every blank row costs 29 bits in MH (EOL and a white run of 1728).  The margin kept
    below the last ink is 0.1 inch (2.5 mm; 0.25 inch cost 0.2 % more MH bytes on the
    bench's text pages): a roll-paper machine cuts there, a sheet printer places the page
    at the top of its sheet either way."""
    ink = np.flatnonzero(packed.any(axis=1))
    last = int(ink[-1]) + 1 if ink.size else 0
    keep = max(last + int(keep_inches * lines_per_inch), int(min_inches * lines_per_inch))
    if keep >= packed.shape[0]:
        return packed
    return packed[:keep]
