"""The SIP bench's document: one realistic text page, the same for every call.

Page ``sans`` seed 1 of the conversion bench's text corpus (:mod:`bench.text_corpus`:
ReportLab body text in sans faces, 8-12 pt, with a bold heading, on A4) rasterised by
Ghostscript's ``tiffg4`` device at 204 x 196 dpi, 1728 x 2292 pixels (A4 fine), MMR in one
strip.  Our sender sends that strip as it is; spandsp senders read the same strip from a
TIFF-F file (and recode it to whatever the call negotiates, MMR with ECM here).
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from pathlib import Path

from modem.api import PageImage
from tests.modem.pages import strip_of
from tests.modem.t38.spandsp_peer import multipage_tiff

WIDTH, LENGTH = 1728, 2292
DESCRIPTION = ("text page: bench/text_corpus 'sans' seed 1 (A4, 8-12 pt body text) "
               "rasterised by Ghostscript tiffg4 at 204x196 dpi, 1728x2292, MMR")


@functools.cache
def text_page() -> PageImage:
    """The bench page (rendered once per process)."""
    return corpus_page("sans", 1)


@functools.cache
def corpus_page(cls: str, seed: int) -> PageImage:
    """Page ``cls`` seed ``seed`` of :mod:`bench.text_corpus` rasterised as the bench page
    is (rendered once per process); the G.711 bench also sends class ``small``."""
    from reportlab.lib.pagesizes import A4

    from bench.text_corpus import draw_page

    pdf, _text = draw_page(cls, seed, A4)
    with tempfile.TemporaryDirectory(prefix="umfax-sip-page-") as tmp:
        src, dst = Path(tmp) / "page.pdf", Path(tmp) / "page.tif"
        src.write_bytes(pdf)
        subprocess.run(
            ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=tiffg4", "-r204x196",
             f"-g{WIDTH}x{LENGTH}", "-dPDFFitPage", "-dMaxStripSize=0", "-o", str(dst), str(src)],
            check=True, capture_output=True, timeout=60,
        )
        data = strip_of(dst.read_bytes())
    return PageImage(data=data, width=WIDTH, length=LENGTH, encoding="mmr", x_res=204.0, y_res=196.0)


def text_page_tiff(directory: Path) -> Path:
    """The bench page as a TIFF-F file in ``directory`` (for spandsp senders)."""
    return page_tiff(text_page(), directory / "page.tif")


def page_tiff(page: PageImage, path: Path) -> Path:
    """``page`` as a TIFF-F file at ``path`` (written once; for spandsp senders)."""
    if not path.exists():
        path.write_bytes(multipage_tiff([page]))
    return path
