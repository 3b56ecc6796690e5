"""Faults on the simulated network: each ends the call with the right cause, in bounded
time, and leaves the line usable (the same driver then sends a fax that arrives).

The causes are what the queue maps to retry classes (``umfax.lifecycle``): busy and no
answer count a dial; no carrier, protocol errors and dropped lines count a try; a far end
that refuses what we have fails the job.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from modem.api import (
    HangupCause,
    PageImage,
    ReceivedPage,
    ReceiveOptions,
    SendOptions,
)
from modem.class1 import Class1Driver
from modem.hdlc import FCF
from modem.sim import Endpoint, SimExchange, SimModem, build_exchange
from modem.sim.spandsp import SpandspFax
from tests.modem.pages import drawing, encode, tiff_wrap
from tests.modem.sim.conftest import needs_spandsp

pytestmark = [needs_spandsp, pytest.mark.timeout(180)]

SPEED = 10.0
LINE = "+15550100"
FAULTY = "+15550113"
GOOD = "+15550110"
MAX_WALL = 30.0  # no fault may keep the line longer than this (wall seconds at SPEED)


def _pages(n: int, coding: str = "mh", lines: int = 300) -> list[PageImage]:
    return [encode(drawing(lines, 60 + k), coding, 196.0) for k in range(n)]  # type: ignore[arg-type]


@dataclass(frozen=True)
class SendFault:
    kind: str  # remote kind on the exchange
    options: dict[str, object]
    pages: list[PageImage]
    send: SendOptions
    cause: HangupCause
    pages_done: int
    message: str  # a word the result's message must contain
    set_up: Callable[[Endpoint], None] | None = None


def _bit_errors_everywhere(ep: Endpoint) -> None:
    ep.faults.bit_error_rate = 0.02
    ep.faults.tcf_errors = True  # TCF too: every training fails


def _dcn_after_one(ep: Endpoint) -> None:
    ep.faults.dcn_after_pages = 1


FAULTS = {
    "busy": SendFault("busy", {}, _pages(1), SendOptions(), HangupCause.BUSY, 0, "busy"),
    "no-answer": SendFault("no_answer", {}, _pages(1), SendOptions(), HangupCause.NO_ANSWER, 0,
                           "answer"),
    # answered by a person / a data modem: no fax tones until the modem gives up (S7)
    "answered-no-fax": SendFault("voice", {"answer_after": 2.0}, _pages(1), SendOptions(),
                                 HangupCause.NO_CARRIER, 0, "carrier"),
    "drop-mid-page": SendFault("drop_mid_page", {"drop_after_page_bytes": 3000}, _pages(2),
                               SendOptions(ecm=False), HangupCause.LINE_DROPPED, 0, "lost"),
    "drop-mid-page-ecm": SendFault("drop_mid_page", {"drop_after_page_bytes": 3000, "ecm": True},
                                   _pages(2), SendOptions(ecm=True), HangupCause.LINE_DROPPED, 0,
                                   "lost"),
    "training-fails": SendFault("receiver", {}, _pages(1), SendOptions(ecm=False),
                                HangupCause.PROTOCOL_ERROR, 0, "train",
                                set_up=_bit_errors_everywhere),
    "rejects-coding": SendFault("receiver", {"compressions": ("mh",)}, _pages(1, "mr"),
                                SendOptions(ecm=False), HangupCause.REMOTE_REJECTED, 0, "MR"),
    "rejects-mmr-without-ecm": SendFault("receiver", {"ecm": False}, _pages(1, "mmr"),
                                         SendOptions(ecm=True), HangupCause.REMOTE_REJECTED, 0,
                                         "MMR"),
    "dcn-mid-call": SendFault("receiver", {}, _pages(3, lines=120), SendOptions(ecm=False),
                              HangupCause.PROTOCOL_ERROR, 1, "disconnected",
                              set_up=_dcn_after_one),
    "dcn-mid-call-ecm": SendFault("receiver", {"ecm": True}, _pages(3, lines=120),
                                  SendOptions(ecm=True), HangupCause.PROTOCOL_ERROR, 1,
                                  "disconnected", set_up=_dcn_after_one),
}


def _line_still_works(ex: SimExchange, driver: Class1Driver) -> None:
    """The same driver and modem send a page to a good fax machine."""
    rx = ex.by_name("good") or ex.add_remote(GOOD, "receiver", "good", ecm=True)
    assert isinstance(rx, SpandspFax)
    result = driver.send(GOOD[-7:], _pages(1, lines=60), SendOptions(), lambda p: None)
    assert result.ok, result
    session = rx.wait_session(30)
    assert session is not None and session.ok


@pytest.mark.parametrize("name", list(FAULTS))
def test_send_fault(name: str) -> None:
    fault = FAULTS[name]
    with build_exchange(speed=SPEED) as ex:
        line = ex.add_line(LINE, "line1")
        remote = ex.add_remote(FAULTY, fault.kind, "faulty", **fault.options)
        if fault.set_up is not None:
            fault.set_up(remote)
        driver = Class1Driver(line.device, speed=SPEED)
        try:
            started = time.monotonic()
            result = driver.send(FAULTY[-7:], fault.pages, fault.send, lambda p: None)
            assert time.monotonic() - started < MAX_WALL
            assert result.cause is fault.cause, result
            assert result.pages_done == fault.pages_done, result
            assert fault.message.lower() in result.message.lower(), result.message
            assert ex.wait_idle(10), "the faulty call is still up"
            if fault.cause is HangupCause.REMOTE_REJECTED:
                assert FCF.DCS not in ex.calls[-1].frames(line)  # refused before any DCS
            if name.startswith("dcn"):
                assert FCF.DCN in ex.calls[-1].frames(remote)
            _line_still_works(ex, driver)
        finally:
            driver.close()


def _tiff(path: Path, lines: list[int]) -> Path:
    coded = [encode(drawing(n, 70 + k), "mh", 196.0) for k, n in enumerate(lines)]
    frames = [Image.open(io.BytesIO(tiff_wrap(c.data, c.width, c.length, "mh"))) for c in coded]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="group3",
                   dpi=(204, 196))
    return path


def _receive(ex: SimExchange, line: SimModem, tx: SpandspFax, tif: Path, options: ReceiveOptions
             ) -> tuple[Class1Driver, object, list[ReceivedPage]]:
    driver = Class1Driver(line.device, speed=SPEED)
    got: list[ReceivedPage] = []
    assert driver.wait_for_call(0.1) is None
    tx.send(LINE, str(tif))
    call = driver.wait_for_call(20.0)
    assert call is not None
    started = time.monotonic()
    result = driver.receive(call, options, got.append, lambda p: None)
    assert time.monotonic() - started < MAX_WALL
    return driver, result, got


def test_receive_far_end_gives_up_after_rtn(tmp_path: Path) -> None:
    """Bad page data: we answer RTN; spandsp (0.0.6) as a sender then disconnects (DCN)."""
    with build_exchange(speed=SPEED) as ex:
        line = ex.add_line(LINE, "line1")
        tx = ex.add_remote("+15550120", "sender", "sender")
        assert isinstance(tx, SpandspFax)
        tx.faults.bit_error_rate = 0.01  # page data only: TCF passes
        driver, result, got = _receive(ex, line, tx, _tiff(tmp_path / "in.tif", [100]),
                                       ReceiveOptions(ecm=False))
        try:
            assert result.cause is HangupCause.REMOTE_REJECTED, result  # type: ignore[attr-defined]
            assert result.pages_done == 0  # type: ignore[attr-defined]
            assert got and not any(p.good for p in got)  # kept, marked bad (RTN sent)
            assert FCF.RTN in ex.calls[-1].frames(line)
            assert FCF.DCN in ex.calls[-1].frames(tx)
            assert ex.wait_idle(10)
            tx.faults.bit_error_rate = 0.0
            _line_still_works(ex, driver)
        finally:
            driver.close()


def test_receive_line_drops_mid_page_ecm(tmp_path: Path) -> None:
    """ECM reception, the line drops in page 2: page 1 is kept, the cause is LINE_DROPPED."""
    with build_exchange(speed=SPEED) as ex:
        line = ex.add_line(LINE, "line1")
        tx = ex.add_remote("+15550120", "sender", "sender", ecm=True)
        assert isinstance(tx, SpandspFax)
        tif = _tiff(tmp_path / "in.tif", [200, 1000])  # MH: about 3.7 and 8.6 kB
        tx.faults.drop_after_page_bytes = 6000
        driver, result, got = _receive(ex, line, tx, tif,
                                       ReceiveOptions(ecm=True, accept_encodings=("mh",)))
        try:
            assert result.cause is HangupCause.LINE_DROPPED, result  # type: ignore[attr-defined]
            assert result.pages_done == len(got) == 1, (result, got)  # type: ignore[attr-defined]
            assert ex.wait_idle(10)
            _line_still_works(ex, driver)
        finally:
            driver.close()


def test_receive_caller_sends_no_fax(tmp_path: Path) -> None:
    """An incoming call with no fax on it (the caller's modem stays silent): NO_CARRIER."""
    with build_exchange(speed=SPEED) as ex:
        line = ex.add_line(LINE, "line1")
        caller = ex.add_line("+15550101", "line2")  # a modem that dials and says nothing
        driver = Class1Driver(line.device, speed=SPEED)
        other = Class1Driver(caller.device, speed=SPEED, init=("ATE0V1Q0", "AT+FCLASS=0"))
        try:
            assert driver.wait_for_call(0.1) is None
            other.probe()
            other.port.write(b"ATDT5550100\r")  # a data call
            call = driver.wait_for_call(20.0)
            assert call is not None and call.caller_number == "+15550101"
            started = time.monotonic()
            result = driver.receive(call, ReceiveOptions(), lambda p: None, lambda p: None)
            assert time.monotonic() - started < MAX_WALL + 10
            assert result.cause is HangupCause.NO_CARRIER, result
            assert result.pages_done == 0
        finally:
            other.close()
            assert ex.wait_idle(20)
            _line_still_works(ex, driver)
            driver.close()


# 22 s of real time; the engine's T1 timeout is tested without a line in
# tests/modem/test_t30_conversation.py (test_receiver_hears_nothing_until_t1).
@pytest.mark.long_call
def test_receive_caller_never_speaks_t30() -> None:
    """A caller that connects (a fax modem whose host says nothing, or a person): we send
    DIS until T1 runs out and end with NO_CARRIER, not a hung line."""
    with build_exchange(speed=SPEED) as ex:
        line = ex.add_line(LINE, "line1")
        caller = ex.add_line("+15550101", "line2")
        driver = Class1Driver(line.device, speed=SPEED)
        other = Class1Driver(caller.device, speed=SPEED)
        try:
            assert driver.wait_for_call(0.1) is None
            assert other.port.command("AT+FCLASS=1").result.name == "OK"
            other.port.write(b"ATDT5550100\r")  # then never a +FTH/+FRH
            call = driver.wait_for_call(20.0)
            assert call is not None
            started = time.monotonic()
            result = driver.receive(call, ReceiveOptions(), lambda p: None, lambda p: None)
            # T1 (35 s) is counted in T4/T2 waits, which the driver times on the wall clock
            assert time.monotonic() - started < 2 * MAX_WALL
            assert result.cause is HangupCause.NO_CARRIER, result
            assert "T1" in result.message
            dis = [f for f in ex.calls[-1].frames(line) if f == FCF.DIS]
            assert len(dis) >= 3  # DIS repeated while waiting
        finally:
            other.close()
            assert ex.wait_idle(20)
            _line_still_works(ex, driver)
            driver.close()


def test_network_remotes_take_options() -> None:
    from modem.sim.network import Subscriber, default_network

    subs = (Subscriber("+15550100", "line1", "line", "local"),
            Subscriber("+15550110", "rx", "receiver", "v29 only, MH only, no ECM",
                       {"ecm": False, "ident": "OPTS", "modems": ("v29", "v27"),
                        "compressions": ("mh",)}),
            Subscriber("+15550114", "person", "voice", "answers, no fax", {"answer_after": 1.0}))
    with default_network(speed=SPEED, subscribers=subs) as net:
        rx = net.endpoint("rx")
        assert isinstance(rx, SpandspFax) and rx.ident == "OPTS" and not rx.ecm
        assert net.endpoint("person") is not None
        driver = Class1Driver(net.device_for_port("sim:line1"), speed=SPEED)
        try:
            result = driver.send("5550110", _pages(1, lines=60), SendOptions(), lambda p: None)
        finally:
            driver.close()
        assert result.ok, result
        assert (result.bit_rate, result.encoding, result.ecm, result.remote_id) == (
            9600, "mh", False, "OPTS")
