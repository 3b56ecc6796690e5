"""Page images for the console: PNG pages and thumbnails of stored fax pages.

Sent pages (``pages``) and received pages (``inbound_pages``) are kept as single-page
TIFF Class F files (MH, MR or MMR coded).  Pillow decodes them through libtiff, in C,
which takes a few milliseconds a page; the pure-Python decoder of :mod:`umfax.conversion`
is only the fallback for a page libtiff refuses (a received page with damaged lines).
A standard-resolution page (98 lines per inch against 204 dots per inch across) is
stretched to its true aspect.  Images are immutable, so they are cached in memory
(bounded LRU) and served with an ETag and ``Cache-Control: private``.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal, Protocol, cast

from PIL import Image

from umfax.conversion.errors import ConversionError
from umfax.conversion.model import Encoding, FaxPage
from umfax.conversion.pages import page_bitmap

logger = logging.getLogger(__name__)

Variant = Literal["thumb", "full"]

#: Thumbnail width in pixels (a page is about 1.3 times as high).
THUMB_WIDTH = 160
#: At most this many rendered images are kept in memory (thumbnails are ~3 KB, pages ~60 KB).
CACHE_ENTRIES = 4096


class CodedPage(Protocol):
    """A stored page row (:class:`umfax.store.models.Page` or ``InboundPage``)."""

    id: int
    width: int
    length: int
    x_res: float
    y_res: float
    encoding: str
    data: bytes


@dataclass(frozen=True, slots=True)
class PageImage:
    png: bytes
    etag: str


def _decode(page: CodedPage) -> Image.Image:
    """The page as a 1-bit Pillow image (white = 1), through libtiff when it can."""
    try:
        image = Image.open(io.BytesIO(page.data))
        image.load()
        return image
    except (OSError, ValueError, SyntaxError) as exc:
        logger.info(
            "libtiff refused a page; decoding it in Python", extra={"page": page.id, "error": str(exc)}
        )
    encoding = cast(Encoding, page.encoding if page.encoding in ("mh", "mr", "mmr") else "mh")
    fax_page = FaxPage(page.data, page.width, page.length, page.x_res, page.y_res, encoding)
    try:
        bitmap = page_bitmap(fax_page)
    except ConversionError as exc:  # beyond repair: show a blank page of its size
        logger.warning("a stored page cannot be decoded", extra={"page": page.id, "error": str(exc)})
        return Image.new("1", (page.width, max(1, page.length)), 1)
    # set bit = black; Pillow's "1" mode: set bit = white
    return Image.frombytes("1", (page.width, bitmap.shape[0]), (~bitmap).tobytes())


def _true_height(page: CodedPage, width: int, height: int) -> int:
    """``height`` stretched so that the page keeps its aspect at ``width`` pixels."""
    x_res = page.x_res or 204.0
    y_res = page.y_res or x_res
    return max(1, round(height * (x_res / y_res) * width / max(1, page.width)))


def render_page(page: CodedPage, variant: Variant) -> bytes:
    """A PNG of ``page``: ``full`` at full resolution (its aspect corrected), ``thumb``
    THUMB_WIDTH pixels wide in grey."""
    image = _decode(page)
    width, height = image.size
    if variant == "thumb":
        size = (THUMB_WIDTH, _true_height(page, THUMB_WIDTH, height))
        # Reduce in 1-bit first (cheap), then average to grey for a readable thumbnail.
        factor = max(1, width // (THUMB_WIDTH * 2))
        grey = image.convert("L")
        if factor > 1:
            grey = grey.reduce(factor)
        out = grey.resize(size, Image.Resampling.BOX)
    else:
        true = _true_height(page, width, height)
        out = image if true == height else image.resize((width, true), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    out.save(buffer, format="PNG", optimize=False, compress_level=1 if variant == "full" else 6)
    return buffer.getvalue()


class ImageCache:
    """A bounded LRU of rendered PNGs, keyed by (table, page id, variant); thread-safe.

    Page rows never change once stored, so a cached image never goes stale."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._items: OrderedDict[tuple[str, int, str], PageImage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, table: str, page: CodedPage, variant: Variant) -> PageImage:
        key = (table, page.id, variant)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        image = PageImage(render_page(page, variant), etag=f'"{table}-{page.id}-{variant}"')
        with self._lock:
            self._items[key] = image
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
        return image

    def cached(self, table: str, page_id: int, variant: Variant) -> PageImage | None:
        """The image if rendered already (answers a conditional request without the page)."""
        with self._lock:
            return self._items.get((table, page_id, variant))

    def __len__(self) -> int:
        return len(self._items)


#: One cache per process: every console request shares it.
CACHE = ImageCache()


def etag_for(table: str, page_id: int, variant: Variant) -> str:
    return f'"{table}-{page_id}-{variant}"'
