"""The Class 1 driver against the simulated network (``modem.sim``): simulated Class 1
modems on real ptys and spandsp's T.30 as the far end.  Fast (simulated time), so the
failure causes can be covered that a real line cannot produce on demand.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from modem.api import (
    HangupCause,
    PageImage,
    Progress,
    ProgressKind,
    ReceivedPage,
    ReceiveOptions,
    SendOptions,
)
from modem.class1 import Class1Driver
from tests.modem.pages import decode, drawing, encode, pixels, tiff_wrap

sim = pytest.importorskip("modem.sim")
spandsp = pytest.importorskip("modem.sim.spandsp")
pytestmark = [
    pytest.mark.skipif(not spandsp.spandsp_available(), reason="libspandsp2 not installed"),
    pytest.mark.timeout(120),
]

SPEED = 5.0  # our timers run on the wall clock: keep the sim slow enough for a loaded CI box
LINE = "+15550100"
RECEIVER = "+15550110"


@pytest.fixture
def exchange() -> Iterator[object]:
    with sim.build_exchange(speed=SPEED) as ex:
        yield ex


def tiff_pages(path: object) -> list[np.ndarray]:
    out = []
    with Image.open(path) as im:  # type: ignore[arg-type]
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            out.append(np.array(im.convert("L")) < 128)
    return out


def send(ex: object, pages: list[PageImage], number: str, **opts: object
         ) -> tuple[object, list[Progress]]:
    line = ex.add_line(LINE, "line1")  # type: ignore[attr-defined]
    driver = Class1Driver(line.device)
    notes: list[Progress] = []
    try:
        result = driver.send(number, pages, SendOptions(local_id="15550100", **opts),  # type: ignore[arg-type]
                             notes.append)
    finally:
        driver.close()
    return result, notes


# (non-ECM MR repeats what the matrix's 1-page cases prove: -m long_call runs it)
@pytest.mark.parametrize("ecm,encoding", [
    (False, "mh"), pytest.param(False, "mr", marks=pytest.mark.long_call), (True, "mr")])
def test_send_two_pages_to_spandsp(exchange: object, ecm: bool, encoding: str) -> None:
    rx = exchange.add_remote(RECEIVER, "receiver", ecm=ecm, ident="REMOTE 1")  # type: ignore[attr-defined]
    images = [drawing(300, 31), drawing(200, 32)]
    pages = [encode(i, encoding, 98.0) for i in images]  # type: ignore[arg-type]
    result, notes = send(exchange, pages, "5550110", ecm=ecm)
    assert result.ok, result  # type: ignore[attr-defined]
    assert result.pages_done == 2 and result.ecm is ecm  # type: ignore[attr-defined]
    assert result.encoding == encoding  # type: ignore[attr-defined]
    session = rx.wait_session(timeout=30)
    assert session is not None and session.ok and session.pages == 2
    got = tiff_pages(session.tiff)
    for g, img in zip(got, images, strict=True):
        assert np.array_equal(g[: img.height], pixels(img))
    kinds = [n.kind for n in notes]
    assert kinds[0] is ProgressKind.DIALING and kinds[-1] is ProgressKind.HANGUP
    assert kinds.count(ProgressKind.PAGE_DONE) == 2


@pytest.mark.parametrize("kind,number,cause", [
    ("busy", "+15550111", HangupCause.BUSY),
    ("no_answer", "+15550112", HangupCause.NO_ANSWER),
    (None, "+15559999", HangupCause.NO_CARRIER),  # nobody there
])
def test_dial_failures(exchange: object, kind: str | None, number: str,
                       cause: HangupCause) -> None:
    if kind:
        exchange.add_remote(number, kind)  # type: ignore[attr-defined]
    result, _ = send(exchange, [encode(drawing(20), "mh")], number[-7:])
    assert result.cause is cause, result  # type: ignore[attr-defined]
    assert result.pages_done == 0  # type: ignore[attr-defined]


def test_no_dialtone(exchange: object) -> None:
    line = exchange.add_line(LINE, "line1")  # type: ignore[attr-defined]
    line.faults.no_dialtone = True
    driver = Class1Driver(line.device)
    try:
        result = driver.send("5550110", [encode(drawing(20), "mh")], SendOptions(),
                             lambda p: None)
    finally:
        driver.close()
    assert result.cause is HangupCause.NO_DIALTONE


def test_unresponsive_modem(exchange: object) -> None:
    line = exchange.add_line(LINE, "line1")  # type: ignore[attr-defined]
    line.faults.unresponsive = True
    driver = Class1Driver(line.device, command_timeout=1.0)
    try:
        assert not driver.probe().ok
        result = driver.send("5550110", [encode(drawing(20), "mh")], SendOptions(),
                             lambda p: None)
    finally:
        driver.close()
    assert result.cause is HangupCause.MODEM_ERROR and result.message


def test_line_drops_mid_page(exchange: object) -> None:
    exchange.add_remote("+15550113", "drop_mid_page", drop_after_page_bytes=3000)  # type: ignore[attr-defined]
    pages = [encode(drawing(600, 33), "mh")]
    result, _ = send(exchange, pages, "5550113", ecm=False)
    assert result.cause is HangupCause.LINE_DROPPED, result  # type: ignore[attr-defined]
    assert result.pages_done == 0  # type: ignore[attr-defined]


def test_ecm_with_bit_errors_recovers_by_ppr(exchange: object) -> None:
    rx = exchange.add_remote(RECEIVER, "receiver", ecm=True)  # type: ignore[attr-defined]
    rx.faults.bit_error_rate = 2e-5
    images = [drawing(600, 34)]
    notes_pages = [encode(images[0], "mh")]
    result, notes = send(exchange, notes_pages, "5550110", ecm=True)
    assert result.ok, result  # type: ignore[attr-defined]
    assert any(n.kind is ProgressKind.PAGE_RETRY for n in notes)  # PPR happened
    session = rx.wait_session(timeout=30)
    assert session is not None and session.ok
    assert np.array_equal(tiff_pages(session.tiff)[0][:600], pixels(images[0]))


@pytest.mark.parametrize("ecm", [False, True])
def test_receive_from_spandsp_with_caller_id(exchange: object, ecm: bool, tmp_path: object
                                             ) -> None:
    line = exchange.add_line(LINE, "line1")  # type: ignore[attr-defined]
    tx = exchange.add_remote("+15550120", "sender", ecm=ecm, ident="SENDER 9")  # type: ignore[attr-defined]
    images = [drawing(250, 35), drawing(120, 38)]
    coded = [encode(i, "mh", 196.0) for i in images]
    tif = tmp_path / "in.tif"  # type: ignore[operator]
    frames = [Image.open(io.BytesIO(tiff_wrap(c.data, c.width, c.length, "mh"))) for c in coded]
    frames[0].save(tif, save_all=True, append_images=frames[1:], compression="group3",
                   dpi=(204, 196))
    driver = Class1Driver(line.device)
    got: list[ReceivedPage] = []
    try:
        assert driver.wait_for_call(0.1) is None
        tx.send(LINE, str(tif))
        call = driver.wait_for_call(20.0)
        assert call is not None
        result = driver.receive(call, ReceiveOptions(local_id="15550100", ecm=ecm), got.append,
                                lambda p: None)
    finally:
        driver.close()
    assert call.caller_number == "+15550120"
    assert result.ok and result.remote_id == "SENDER 9" and result.ecm is ecm, result
    assert [p.number for p in got] == [1, 2] and all(p.good for p in got)
    assert result.pages_done == 2
    for p, img in zip(got, images, strict=True):
        assert p.image.length == img.height
        assert np.array_equal(decode(p.image), pixels(img))
    session = tx.wait_session(timeout=30)
    assert session is not None and session.ok


def test_tiff_wrap_is_readable() -> None:
    page = encode(drawing(30), "mh")
    with Image.open(io.BytesIO(tiff_wrap(page.data, 1728, 30, "mh"))) as im:
        assert im.size == (1728, 30) and im.info["dpi"] == (204.0, 196.0)


def test_cancel_ends_the_call_with_cancelled(exchange: object) -> None:
    rx = exchange.add_remote(RECEIVER, "receiver")  # type: ignore[attr-defined]
    line = exchange.add_line(LINE, "line1")  # type: ignore[attr-defined]
    driver = Class1Driver(line.device)

    def on_progress(p: Progress) -> None:
        if p.kind is ProgressKind.CONNECTED:
            driver.cancel()

    try:
        result = driver.send("5550110", [encode(drawing(100), "mh")], SendOptions(),
                             on_progress)
    finally:
        driver.close()
    assert result.cause is HangupCause.CANCELLED and result.pages_done == 0
    session = rx.wait_session(timeout=30)
    assert session is not None and not session.ok


def test_receive_keeps_pages_confirmed_before_the_line_drops(exchange: object,
                                                             tmp_path: object) -> None:
    line = exchange.add_line(LINE, "line1")  # type: ignore[attr-defined]
    tx = exchange.add_remote("+15550120", "sender")  # type: ignore[attr-defined]
    images = [drawing(200, 36), drawing(900, 37)]
    pages = [encode(i, "mh", 196.0) for i in images]
    tif = tmp_path / "two.tif"  # type: ignore[operator]
    first = Image.open(io.BytesIO(tiff_wrap(pages[0].data, 1728, 200, "mh")))
    second = Image.open(io.BytesIO(tiff_wrap(pages[1].data, 1728, 900, "mh")))
    first.save(tif, save_all=True, append_images=[second], compression="group3",
               dpi=(204, 196))
    tx.faults.drop_after_page_bytes = len(pages[0].data) + 3000  # mid page 2
    driver = Class1Driver(line.device)
    got: list[ReceivedPage] = []
    try:
        driver.wait_for_call(0.1)
        tx.send(LINE, str(tif))
        call = driver.wait_for_call(20.0)
        assert call is not None
        result = driver.receive(call, ReceiveOptions(ecm=False), got.append, lambda p: None)
    finally:
        driver.close()
    assert result.cause is HangupCause.LINE_DROPPED, result
    assert result.pages_done == 1
    assert [(p.number, p.good) for p in got] == [(1, True)]
    assert np.array_equal(decode(got[0].image, 200), pixels(images[0]))
