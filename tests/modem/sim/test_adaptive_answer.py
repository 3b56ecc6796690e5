"""Adaptive answer (T.31 +FAE=1): the simulated Class 1 modem tells a fax caller from a
data modem; our driver receives the fax and hangs up on the data call at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from modem.api import HangupCause, ReceiveOptions
from modem.class1 import Class1Driver
from modem.sim import build_exchange
from tests.modem.sim.conftest import ATPort, needs_spandsp

SPEED = 10


def test_the_dce_reports_fax_or_data(at_ports: list[ATPort]) -> None:
    with build_exchange(speed=SPEED) as ex:
        callee = ATPort(ex.add_line("+15550101", "callee").device)
        caller = ATPort(ex.add_line("+15550100", "caller").device)
        at_ports += [callee, caller]
        for port in (callee, caller):
            port.cmd("ATE0")
        assert callee.cmd("AT+FAE=?")[-2:] == ["0,1", "OK"]
        assert callee.cmd("AT+FCLASS=1;+FAE=1") == ["OK"]
        assert callee.cmd("AT+FAE?")[-2:] == ["1", "OK"]
        assert caller.cmd("AT+FCLASS=0") == ["OK"]
        caller.write(b"ATD15550101\r")
        callee.until(("RING",), 10)
        assert callee.cmd("ATA", 10)[-2:] == ["DATA", "CONNECT"]  # after the caller ID lines


def test_driver_hangs_up_on_a_data_call(at_ports: list[ATPort]) -> None:
    with build_exchange(speed=SPEED) as ex:
        line = ex.add_line("+15550101", "callee")
        caller = ATPort(ex.add_line("+15550100", "caller").device)
        at_ports.append(caller)
        caller.cmd("ATE0")
        driver = Class1Driver(line.device, speed=SPEED)
        try:
            driver.probe()
            assert caller.cmd("AT+FCLASS=0") == ["OK"]
            caller.write(b"ATD15550101\r")
            call = driver.wait_for_call(30)
            assert call is not None and call.caller_number == "+15550100"
            started = time.monotonic()
            pages: list[object] = []
            result = driver.receive(call, ReceiveOptions(adaptive_answer=True), pages.append, lambda p: None)
            took = time.monotonic() - started
        finally:
            driver.close()
        assert result.cause is HangupCause.NO_CARRIER and "data modem" in result.message
        assert pages == [] and took < 10  # not T.30's 35 s timeout


@needs_spandsp
def test_driver_receives_a_fax_with_adaptive_answer(page_tiff: Path) -> None:
    with build_exchange(speed=SPEED) as ex:
        line = ex.add_line("+15550101", "line2")
        sender = ex.add_remote("+15550120", "sender", ecm=True, ident="SPANDSP TX")
        driver = Class1Driver(line.device, speed=SPEED)
        received: list[object] = []
        try:
            driver.probe()
            threading.Thread(
                target=lambda: (time.sleep(0.3), sender.send("15550101", page_tiff)), daemon=True
            ).start()
            call = driver.wait_for_call(30)
            assert call is not None
            result = driver.receive(
                call, ReceiveOptions(ecm=True, adaptive_answer=True), received.append, lambda p: None
            )
        finally:
            driver.close()
        assert result.ok, result.message
        assert len(received) == 1
