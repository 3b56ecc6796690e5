"""Conversion in a child process (umfax.conversion.isolated): the same pages as in process,
a job over its time abandoned and the worker replaced, one over its memory refused."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from PIL import Image

from tests.conversion import makers
from umfax.conversion import ConversionOptions, convert_documents
from umfax.conversion.errors import ConverterTimeout, DocumentTooLarge
from umfax.conversion.isolated import IsolatedConverter


@pytest.fixture
def converter() -> Iterator[IsolatedConverter]:
    with IsolatedConverter(timeout=60.0, memory_bytes=1024 * 1024 * 1024) as isolated:
        isolated.start()
        yield isolated


def _big_png(side: int) -> bytes:
    """A grey PNG ``side`` pixels square (a gradient: small on disk, large decoded)."""
    row = Image.linear_gradient("L").resize((side, 1))
    return makers.image_bytes(row.resize((side, side), Image.Resampling.NEAREST), "PNG")


def _text(pages: int) -> bytes:
    return "\f".join(f"Page {n} of the isolated conversion test." for n in range(1, pages + 1)).encode()


def test_the_child_makes_the_same_pages_as_the_process(converter: IsolatedConverter) -> None:
    documents = [("memo.txt", _text(3)), ("form.pdf", makers.pdf([b"BT /F1 12 Tf 72 700 Td (Form) Tj ET"]))]
    options = ConversionOptions(resolution="fine", encoding="mmr")
    assert converter.convert(documents, options) == convert_documents(documents, options)


def test_a_job_over_its_time_is_abandoned_and_the_next_one_converts(converter: IsolatedConverter) -> None:
    converter.convert([("warm.txt", b"warm")], ConversionOptions())  # the child is up
    converter.timeout = 0.05
    big = [("long.txt", _text(400))]  # 400 pages: well over 50 ms
    started = time.monotonic()
    with pytest.raises(ConverterTimeout, match=r"longer than 0\.05 s"):
        converter.convert(big, ConversionOptions(resolution="superfine"))
    assert time.monotonic() - started < 10  # abandoned, not waited for
    converter.timeout = 60.0
    [page] = converter.convert([("after.txt", b"after the timeout")], ConversionOptions())
    assert page.width == 1728  # a fresh child took the next job


def test_a_job_over_its_memory_fails_alone(converter: IsolatedConverter) -> None:
    small = IsolatedConverter(timeout=60.0, memory_bytes=300 * 1024 * 1024)
    try:
        # a 7700 x 7700 grey PNG (59 Mpx, under max_pixels) needs more than 300 MB of address
        # space to place at superfine (it converts under 350 MB; a text file under 250 MB)
        with pytest.raises(DocumentTooLarge, match="more memory"):
            small.convert([("huge.png", _big_png(7700))], ConversionOptions(resolution="superfine"))
        [page] = small.convert([("note.txt", b"still working")], ConversionOptions())
        assert page.width == 1728
    finally:
        small.close()
