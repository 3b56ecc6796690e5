"""Conversion in a child process (umfax.conversion.isolated): the same pages as in process,
a job over its time abandoned and the worker replaced, one over its memory refused, and a
conversion in progress given up at once when the server stops (its job requeued)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from PIL import Image

from tests.conversion import makers
from umfax.config import load_config
from umfax.conversion import ConversionOptions, convert_documents
from umfax.conversion.errors import ConversionStopped, ConverterTimeout, DocumentTooLarge
from umfax.conversion.isolated import IsolatedConverter
from umfax.lifecycle import JobState
from umfax.prepare import ConversionWorker
from umfax.store import DocumentIn, JobSpec, Store


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


def test_a_stop_abandons_the_conversion_in_progress(converter: IsolatedConverter) -> None:
    converter.convert([("warm.txt", b"warm")], ConversionOptions())
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    with pytest.raises(ConversionStopped, match="converted again"):
        converter.convert([("long.txt", _text(400))], ConversionOptions(resolution="superfine"), stop)
    assert time.monotonic() - started < 5  # not the minutes 400 superfine pages take
    [page] = converter.convert([("after.txt", b"after the stop")], ConversionOptions())
    assert page.width == 1728  # a fresh child took the next job


def test_a_server_stopping_mid_conversion_requeues_the_job(store: Store) -> None:
    """The conversion worker gives the job back to the queue (pending, an event saying
    why), neither failing it nor leaving it claimed until the next start."""
    config = load_config(None)
    job = store.submit(
        JobSpec(number="+12125550110", resolution="superfine", cover=False),
        [DocumentIn("long.txt", _text(400), "text/plain")],
    )
    stop, wake = threading.Event(), threading.Event()
    worker = ConversionWorker(store, config, "test-convert", stop, wake)
    worker.start()
    try:
        assert wait_for(lambda: store.get_job(job.id).state == JobState.CONVERTING.value, 30)
        time.sleep(0.5)
        stop.set()
        wake.set()
        worker.join(10)
        assert not worker.is_alive()
    finally:
        stop.set()
        worker.join(10)
    after = store.get_job(job.id)
    assert after.state == JobState.PENDING.value and after.claimed_by is None
    [requeued] = [e for e in store.events(job_id=job.id) if e.kind == "requeued"]
    assert "stopped while converting" in requeued.message


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
