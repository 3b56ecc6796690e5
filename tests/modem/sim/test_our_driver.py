"""Integration: our Class 1 driver (modem.class1) on a simulated line against spandsp.

Our T.30 checked against a third-party T.30 (spandsp), through the simulated
Class 1 modem; with ECM the driver frames HDLC itself over +FTM/+FRM and the
bridge converts those bit streams to and from T.38 ECM frames.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from modem.api import ProgressKind, ReceiveOptions, SendOptions
from modem.sim import build_exchange
from modem.sim.spandsp import SpandspFax
from tests.modem.sim.conftest import needs_spandsp, tiff_bitmap

class1 = pytest.importorskip("modem.class1")
pages = pytest.importorskip("tests.modem.pages")

pytestmark = [needs_spandsp, pytest.mark.slow]

SPEED = 10  # the driver's own timers run on the wall clock


@pytest.mark.parametrize(("ecm", "encoding"), [(False, "mh"), (False, "mr"), (True, "mmr")])
def test_driver_sends_to_spandsp(ecm: bool, encoding: str) -> None:
    with build_exchange(speed=SPEED) as ex:
        line = ex.add_line("+15550100", "line1")
        rx = ex.add_remote("+15550110", "receiver", ecm=True, ident="SPANDSP RX")
        assert isinstance(rx, SpandspFax)
        img = pages.drawing(1100)
        page = pages.encode(img, encoding)
        kinds: list[ProgressKind] = []
        driver = class1.Class1Driver(line.device)
        try:
            res = driver.send("15550110", [page], SendOptions(local_id="+1 555 0100", ecm=ecm),
                              lambda p: kinds.append(p.kind))
        finally:
            driver.close()
        assert res.ok, res.message
        assert res.pages_done == 1 and res.ecm is ecm and res.remote_id == "SPANDSP RX"
        assert ProgressKind.PAGE_DONE in kinds
        got = rx.wait_session(30)
        assert got is not None and got.ok and got.ecm is ecm
        assert got.remote_ident == "+1 555 0100"
        assert got.tiff is not None
        assert (tiff_bitmap(got.tiff) == pages.pixels(img)).all()


@pytest.mark.parametrize("ecm", [False, True], ids=["non-ecm", "ecm"])
def test_driver_receives_from_spandsp(page_tiff: Path, ecm: bool) -> None:
    with build_exchange(speed=SPEED) as ex:
        line = ex.add_line("+15550101", "line2")
        tx = ex.add_remote("+15550120", "sender", ecm=True, ident="SPANDSP TX")
        assert isinstance(tx, SpandspFax)
        driver = class1.Class1Driver(line.device)
        received: list[object] = []
        try:
            driver.probe()

            def call_in() -> None:
                time.sleep(0.3)
                tx.send("15550101", page_tiff)

            threading.Thread(target=call_in, daemon=True).start()
            call = driver.wait_for_call(30)
            assert call is not None
            assert (call.caller_number, call.called_number) == ("+15550120", "+15550101")
            res = driver.receive(call, ReceiveOptions(local_id="+1 555 0101", ecm=ecm),
                                 received.append, lambda p: None)
        finally:
            driver.close()
        assert res.ok, res.message
        assert res.ecm is ecm and res.remote_id == "SPANDSP TX"
        sess = tx.wait_session(30)
        assert sess is not None and sess.ok and sess.pages == 1
        assert len(received) == 1
        got = pages.decode(received[0].image)  # type: ignore[attr-defined]
        assert (got == tiff_bitmap(page_tiff)).all()
