"""Fax page images for peer tests: make TIFF-F pages, load received pages, compare pixels.

Pixel arrays are ``numpy`` bool arrays of shape (rows, 1728), ``True`` = black (ink),
whatever the file's photometric convention.

What efax writes when receiving (checked with tiffinfo on efax 0.9a-001114): one
single-page TIFF per page, ``PREFIX.001``, ``PREFIX.002``…, CCITT Group 3 1-D,
min-is-white, FillOrder msb-to-lsb, 1728 wide, 204x196 or 204x98 dpi. (efax's receive
side has no output-format option; ``efix -o pbm FILE`` converts if ever needed.)
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageSequence

__all__ = [
    "FAX_WIDTH",
    "PageComparison",
    "compare_pages",
    "load_fax_image",
    "load_fax_pages",
    "make_test_page",
    "received_pages",
    "render_postscript",
    "write_fax_tiff",
]

Ink = npt.NDArray[np.bool_]

FAX_WIDTH = 1728  # pixels per line, ITU-T T.4 A4/letter width at 204 dpi
RESOLUTIONS: dict[str, tuple[int, int]] = {"fine": (204, 196), "standard": (204, 98)}
A4_ROWS = {"fine": 2292, "standard": 1146}  # 297 mm at 196 / 98 lpi

DEFAULT_PAGE_PS = """%!PS
/Helvetica-Bold findfont 36 scalefont setfont
72 740 moveto (umfax peer test: __LABEL__) show
/Courier findfont 12 scalefont setfont
72 700 moveto (The quick brown fox jumps over the lazy dog 0123456789 !@#$%^&*) show
/Times-Roman findfont 9 scalefont setfont
72 680 moveto (Small type: sphinx of black quartz, judge my vow. ABCDEFGHIJKLMNOPQRSTUVWXYZ) show
% a vertical-bar ruler: 1-pixel-ish lines catch bit slips and width truncation
0.3 setlinewidth
0 6 534 { 36 add 600 moveto 0 40 rlineto stroke } for
% solid blocks and a diagonal
100 120 160 160 rectfill
4 setlinewidth 300 120 moveto 560 520 lineto stroke
% checkerboard patch
0 1 15 { /i exch def 0 1 15 { /j exch def
  i j add 2 mod 0 eq { 320 i 8 mul add 300 j 8 mul add 8 8 rectfill } if } for } for
showpage
"""


def render_postscript(ps: str, path: Path, *, resolution: str = "fine", rows: int | None = None) -> Path:
    """Render one PostScript page to a TIFF-F (G3) file of exactly 1728 x A4 rows."""
    xdpi, ydpi = RESOLUTIONS[resolution]
    rows = rows or A4_ROWS[resolution]
    src = path.with_suffix(".ps")
    src.write_text(ps)
    cmd = [
        "gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=tiffg3",
        f"-r{xdpi}x{ydpi}", f"-g{FAX_WIDTH}x{rows}", "-dFIXEDMEDIA",
        f"-sOutputFile={path}", str(src),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0 or not path.exists():
        raise RuntimeError(f"gs failed rc={done.returncode}: {done.stderr or done.stdout}")
    return path


def make_test_page(path: Path, *, label: str = "page 1", resolution: str = "fine") -> Path:
    """The default test page (text of three sizes, thin rules, blocks, checkerboard)."""
    safe = label.replace("\\", "").replace("(", "[").replace(")", "]")
    return render_postscript(DEFAULT_PAGE_PS.replace("__LABEL__", safe), path, resolution=resolution)


def write_fax_tiff(ink: Ink, path: Path, *, resolution: str = "fine") -> Path:
    """Write a bool ink array as a single-page G3 TIFF with Pillow (alternative to gs).

    Written the way efax needs it: one strip (efax/efix cannot read multi-strip TIFF,
    Pillow's default) and min-is-white (Pillow's default for mode "1" is min-is-black).
    Checked: efix, libtiff (tiffcp) and Pillow all read back the same pixels.
    """
    if ink.ndim != 2 or ink.shape[1] != FAX_WIDTH:
        raise ValueError(f"expected (rows, {FAX_WIDTH}) array, got {ink.shape}")
    img = Image.fromarray(np.logical_not(ink))  # mode "1": True = white
    img.save(
        path,
        compression="group3",
        dpi=RESOLUTIONS[resolution],
        tiffinfo={262: 0, 278: int(ink.shape[0])},  # PhotometricInterpretation, RowsPerStrip
        strip_size=2**31 - 1,
    )
    return path


def _ink(frame: Image.Image) -> Ink:
    if frame.mode != "1":
        frame = frame.convert("L").point(lambda v: 255 if v >= 128 else 0, mode="1")
    # Pillow's mode "1" is True for white regardless of the TIFF photometric tag
    ink: Ink = ~np.asarray(frame, dtype=bool)
    return ink


def load_fax_pages(path: Path) -> list[Ink]:
    """All pages of a (possibly multi-page) TIFF/PBM/PNG as bool ink arrays."""
    with Image.open(path) as img:
        return [_ink(frame.copy()) for frame in ImageSequence.Iterator(img)]


def load_fax_image(path: Path) -> Ink:
    """The single page in ``path`` as a bool ink array (error if several pages)."""
    pages = load_fax_pages(path)
    if len(pages) != 1:
        raise ValueError(f"{path} holds {len(pages)} pages, expected 1")
    return pages[0]


def received_pages(prefix: Path) -> list[Path]:
    """efax's received page files for ``-r PREFIX``: PREFIX.001, PREFIX.002, … in order."""
    found = [
        p for p in prefix.parent.glob(prefix.name + ".*")
        if p.suffix[1:].isdigit() and len(p.suffix) == 4
    ]  # fmt: skip
    return sorted(found, key=lambda p: int(p.suffix[1:]))


@dataclass(frozen=True)
class PageComparison:
    """How a received page relates to the sent one.

    Allowed differences (what efax-to-efax legitimately changes):
    * ``leading_rows`` all-white rows added at the top (efax's sender reserves ~0.1" for
      its page header: 20 rows fine / 10 standard, blank with ``-h ""``), up to a bound;
    * rows missing or added at the bottom, provided they are white (efax drops the last
      scan line when the file ends without RTC; receivers may pad).
    Everything else counts in ``diff_pixels``.
    """

    sent_shape: tuple[int, int]
    received_shape: tuple[int, int]
    leading_rows: int  # white rows the received page has before the sent content
    diff_pixels: int  # pixels differing after alignment (incl. ink lost off the bottom)
    sent_ink: int
    received_ink: int

    @property
    def identical(self) -> bool:
        return self.diff_pixels == 0

    def __str__(self) -> str:
        return (
            f"sent {self.sent_shape} ink={self.sent_ink}, received {self.received_shape} "
            f"ink={self.received_ink}, leading white rows={self.leading_rows}, "
            f"differing pixels={self.diff_pixels}"
        )


def _first_ink_row(a: Ink) -> int | None:
    rows = np.flatnonzero(a.any(axis=1))
    return int(rows[0]) if rows.size else None


def compare_pages(sent: Ink, received: Ink, *, max_leading_rows: int = 64) -> PageComparison:
    """Align ``received`` to ``sent`` allowing only white rows at top/bottom; count diffs."""
    if sent.shape[1] != received.shape[1]:
        raise AssertionError(f"page width changed: sent {sent.shape}, received {received.shape}")
    fs, fr = _first_ink_row(sent), _first_ink_row(received)
    if fs is None or fr is None:
        offset = 0
    else:
        offset = fr - fs
        if not 0 <= offset <= max_leading_rows:
            raise AssertionError(
                f"received content starts {offset} rows from the sent one "
                f"(allowed 0..{max_leading_rows}); sent first ink row {fs}, received {fr}"
            )
    height = max(sent.shape[0] + offset, received.shape[0])
    a = np.zeros((height, sent.shape[1]), dtype=bool)
    b = np.zeros_like(a)
    a[offset : offset + sent.shape[0]] = sent
    b[: received.shape[0]] = received
    return PageComparison(
        sent_shape=(int(sent.shape[0]), int(sent.shape[1])),
        received_shape=(int(received.shape[0]), int(received.shape[1])),
        leading_rows=offset,
        diff_pixels=int(np.count_nonzero(a != b)),
        sent_ink=int(np.count_nonzero(sent)),
        received_ink=int(np.count_nonzero(received)),
    )
