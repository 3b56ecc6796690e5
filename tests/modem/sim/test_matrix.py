"""The send/receive matrix: our Class 1 driver against spandsp on the simulated network.

Every valid combination of direction (send, receive) x pages (1, 10) x ECM (on, off) x
coding (MH, MR, MMR) x modulation (V.17 at 14,400 bit/s, V.29 at 9,600 bit/s).  MMR (T.6)
is defined for ECM only (T.30 Table 2 note: bit 31 needs bit 27), so MMR without ECM is not
a combination: it is left out here and :func:`test_mmr_without_ecm_is_refused` checks that
the engine refuses to send it.

The 10-page calls outside ``TEN_PAGE_DEFAULT`` run with ``-m long_call``.

Each case checks that the pages that arrive equal the pages sent, pixel for pixel and in
order, that the call negotiated the coding, ECM and rate asked for, and that the
high-speed carriers on the (simulated) line really were of that modulation (the T.31
codes in the exchange's carrier records).  What we ask for is on our side: the coding of
the pages we send (or the codings we accept when receiving), ``ecm`` and ``modems`` in
:class:`SendOptions` / :class:`ReceiveOptions`; spandsp offers everything.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from modem.api import Encoding, HangupCause, ProgressKind, ReceivedPage, ReceiveOptions, SendOptions
from modem.class1 import Class1Driver
from modem.hdlc import FCF
from modem.sim import SimExchange, build_exchange
from modem.sim.spandsp import SpandspFax
from tests.modem.pages import decode, drawing, encode, pixels, tiff_wrap
from tests.modem.sim.conftest import needs_spandsp

pytestmark = [needs_spandsp, pytest.mark.timeout(240)]

SPEED = 10.0  # the driver's command round trips are wall-clock time, multiplied by this
LINE = "+15550100"
REMOTE = "+15550110"
PAGE_LINES = 120  # short pages keep a 10-page call to about a minute of line time
#: The 10-page calls in the default run: one per direction, one with ECM and one without,
#: on both modulations.  The other 10-page combinations (each about 7 s of wall time)
#: repeat what the 1-page cases already prove for their coding and modulation, and run
#: with ``-m long_call``.
TEN_PAGE_DEFAULT = frozenset({"send-10p-ecm-mmr-v17", "receive-10p-noecm-mr-v29"})

#: modulation -> (our ``modems`` option, bit rate, T.31 codes its data carriers may use)
MODULATIONS: dict[str, tuple[tuple[str, ...], int, frozenset[int]]] = {
    "v17": (("v17", "v29", "v27"), 14400, frozenset({145, 146})),
    "v29": (("v29", "v27"), 9600, frozenset({96})),
}
V21 = 3


def _cases() -> list[Any]:
    out = []
    for direction in ("send", "receive"):
        for pages in (1, 10):
            for ecm in (False, True):
                for coding in ("mh", "mr", "mmr"):
                    if coding == "mmr" and not ecm:
                        continue  # T.6 coding exists only with ECM: not a valid combination
                    for mod in ("v17", "v29"):
                        ident = f"{direction}-{pages}p-{'ecm' if ecm else 'noecm'}-{coding}-{mod}"
                        marks = [pytest.mark.slow] if pages == 10 else []
                        if pages == 10 and ident not in TEN_PAGE_DEFAULT:
                            marks.append(pytest.mark.long_call)
                        out.append(pytest.param(direction, pages, ecm, coding, mod, id=ident,
                                                marks=marks))
    return out


def _images(count: int) -> list[Image.Image]:
    # a different drawing per page, so that pages swapped or repeated are caught
    return [drawing(PAGE_LINES + 7 * n, seed=100 + n) for n in range(count)]


def _tiff_frames(path: Path) -> list[np.ndarray]:
    out = []
    with Image.open(path) as im:
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            out.append(np.array(im.convert("L")) < 128)
    return out


def _check_carriers(ex: SimExchange, expected: frozenset[int]) -> None:
    calls = [c for c in ex.calls if c.state == "ended" and c.carriers]
    assert calls, "no call on the exchange"
    data = {c.mod for c in calls[-1].carriers if c.mod != V21}
    assert data and data <= expected, (data, expected)


@pytest.mark.parametrize(("direction", "pages", "ecm", "coding", "mod"), _cases())
def test_matrix(direction: str, pages: int, ecm: bool, coding: Encoding, mod: str,
                tmp_path: Path) -> None:
    modems, rate, codes = MODULATIONS[mod]
    images = _images(pages)
    with build_exchange(speed=SPEED) as ex:
        line = ex.add_line(LINE, "line1")
        driver = Class1Driver(line.device, speed=SPEED)
        try:
            if direction == "send":
                _send(ex, driver, images, ecm, coding, modems, rate)
            else:
                _receive(ex, driver, images, ecm, coding, modems, rate, tmp_path)
        finally:
            driver.close()
        _check_carriers(ex, codes)


def _send(ex: SimExchange, driver: Class1Driver, images: list[Image.Image], ecm: bool,
          coding: Encoding, modems: tuple[str, ...], rate: int) -> None:
    rx = ex.add_remote(REMOTE, "receiver", ecm=True, ident="MATRIX RX")
    assert isinstance(rx, SpandspFax)
    coded = [encode(img, coding, 196.0) for img in images]
    kinds: list[ProgressKind] = []
    result = driver.send(REMOTE[-7:], coded,
                         SendOptions(local_id="+1 555 0100", ecm=ecm, modems=modems),
                         lambda p: kinds.append(p.kind))
    assert result.ok, result
    assert (result.encoding, result.ecm, result.bit_rate) == (coding, ecm, rate)
    assert result.pages_done == len(images) == kinds.count(ProgressKind.PAGE_DONE)
    session = rx.wait_session(60)
    assert session is not None and session.ok, session
    assert (session.pages, session.ecm, session.bit_rate) == (len(images), ecm, rate)
    assert session.remote_ident == "+1 555 0100"
    assert session.tiff is not None
    got = _tiff_frames(session.tiff)
    assert len(got) == len(images)
    for n, (page, img) in enumerate(zip(got, images, strict=True)):
        assert page.shape[0] >= img.height, (n, page.shape)
        assert np.array_equal(page[: img.height], pixels(img)), f"page {n + 1} differs"
        assert not page[img.height:].any(), f"page {n + 1} has ink below the image"


def _receive(ex: SimExchange, driver: Class1Driver, images: list[Image.Image], ecm: bool,
             coding: Encoding, modems: tuple[str, ...], rate: int, tmp_path: Path) -> None:
    tx = ex.add_remote("+15550120", "sender", ecm=True, ident="MATRIX TX")
    assert isinstance(tx, SpandspFax)
    # spandsp recodes what it sends into the best coding we offer: offer the one asked for
    accept: tuple[Encoding, ...] = {"mh": ("mh",), "mr": ("mh", "mr"),
                                    "mmr": ("mh", "mr", "mmr")}[coding]
    tif = tmp_path / "send.tif"
    coded = [encode(img, "mh", 196.0) for img in images]
    frames = [Image.open(io.BytesIO(tiff_wrap(c.data, c.width, c.length, "mh"))) for c in coded]
    frames[0].save(tif, save_all=True, append_images=frames[1:], compression="group3",
                   dpi=(204, 196))
    got: list[ReceivedPage] = []
    assert driver.wait_for_call(0.1) is None  # modem initialised, line idle
    threading.Timer(0.05, tx.send, (LINE, str(tif))).start()
    call = driver.wait_for_call(30.0)
    assert call is not None and call.caller_number == "+15550120"
    result = driver.receive(call, ReceiveOptions(local_id="+1 555 0100", ecm=ecm,
                                                 accept_encodings=accept, modems=modems),
                            got.append, lambda p: None)
    assert result.ok, result
    assert (result.encoding, result.ecm, result.bit_rate) == (coding, ecm, rate)
    assert result.remote_id == "MATRIX TX"
    assert result.pages_done == len(images)
    assert [(p.number, p.good) for p in got] == [(n + 1, True) for n in range(len(images))]
    for n, (page, img) in enumerate(zip(got, images, strict=True)):
        assert page.image.encoding == coding
        assert page.image.length >= img.height, (n, page.image.length)
        pix = decode(page.image)
        assert np.array_equal(pix[: img.height], pixels(img)), f"page {n + 1} differs"
        assert not pix[img.height:].any(), f"page {n + 1} has ink below the image"
    session = tx.wait_session(60)
    assert session is not None and session.ok, session
    assert session.pages == len(images)


def test_mmr_without_ecm_is_refused() -> None:
    """MMR pages on a call without ECM: the sender refuses (no DCS), and says why."""
    with build_exchange(speed=SPEED) as ex:
        line = ex.add_line(LINE, "line1")
        ex.add_remote(REMOTE, "receiver", ecm=True)
        driver = Class1Driver(line.device, speed=SPEED)
        try:
            result = driver.send(REMOTE[-7:], [encode(drawing(40), "mmr")],
                                 SendOptions(ecm=False), lambda p: None)
        finally:
            driver.close()
        assert result.cause is HangupCause.REMOTE_REJECTED, result
        assert "MMR" in result.message and result.pages_done == 0
        sent = ex.calls[-1].frames(ex.calls[-1].caller)
        assert FCF.DCS not in sent
