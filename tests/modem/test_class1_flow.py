"""The Class 1 driver's page-data path on a real pty, the far side played by a small
thread that behaves as a T.31 DCE: it drains what it holds at the line rate and flow-
controls the DTE with XOFF (above 3 kB held) and XON (once 1 kB has gone out), as
spandsp's T.31 does under iaxmodem.  The line runs ``SPEED`` times faster than real
time, so a page of 30 s of line time takes about 2 s here.  (On a pty the DTE is also
held back by the pty's own buffer, so whether it stops *writing* on XOFF is checked on
a scripted port below, where nothing else holds it back.)
"""

from __future__ import annotations

import os
import pty
import select
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from modem import at
from modem.class1 import Class1Driver
from modem.errors import ModemTimeout
from modem.hdlc import FCF, build_frame, fcs_bytes
from modem.pump import ATPort
from modem.t30 import messages as m

pytestmark = pytest.mark.timeout(60)

SPEED = 16.0
RATE = 9600
BUFFER = 4096  # the DCE's transmit buffer
XOFF_ABOVE = 3072
XON_AT = XOFF_ABOVE - 1024
NSF = build_frame(FCF.NSF, bytes([0x00, 0x11, 0x13, 0x10, 0x11, 0x13, 0x10, 0x10, 0x13]), final=True)
IMAGE_IN = bytes([0x11, 0x13, 0x10, 0x00, 0x13, 0x11]) * 500


@dataclass
class FakeDCE:
    """A T.31 DCE on the master side of a pty (see the module doc)."""

    fd: int
    octets_per_s: float
    received: bytearray = field(default_factory=bytearray)  # page data, unescaped
    xoffs: int = 0
    commands: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def run(self) -> None:
        try:
            line = bytearray()
            while not self.stop.is_set():
                if not select.select([self.fd], [], [], 0.02)[0]:
                    continue
                for b in os.read(self.fd, 4096):
                    if b == 0x0D:
                        self._command(line.decode())
                        line.clear()
                    elif b != 0x0A:
                        line.append(b)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _say(self, data: bytes) -> None:
        os.write(self.fd, data)

    def _command(self, cmd: str) -> None:
        self.commands.append(cmd)
        if cmd.startswith("AT+FTM="):
            self._say(b"\r\nCONNECT\r\n")
            self._transmit()
            self._say(b"\r\nOK\r\n")
        elif cmd == "AT+FRH=3":
            frame = NSF + fcs_bytes(NSF)
            self._say(b"\r\nCONNECT\r\n" + at.escape(frame) + at.END_OF_DATA + b"\r\nOK\r\n")
        elif cmd.startswith("AT+FRM="):
            self._say(b"\r\nCONNECT\r\n" + at.escape(IMAGE_IN) + at.END_OF_DATA
                      + b"\r\nNO CARRIER\r\n")
        else:
            self._say(b"\r\nOK\r\n")

    def _transmit(self) -> None:
        """Take DLE-escaped data up to DLE ETX; send it out at the line rate."""
        held = bytearray()  # the DCE's transmit buffer
        holding = False
        dle = ended = False
        credit = 0.0
        last = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            credit += (now - last) * self.octets_per_s
            last = now
            gone = min(int(credit), len(held))
            del held[:gone]
            credit = credit - gone if held else 0.0
            if not holding and not ended:
                while len(held) < BUFFER and select.select([self.fd], [], [], 0)[0]:
                    for b in os.read(self.fd, BUFFER - len(held)):  # what fits the buffer
                        if ended:
                            raise AssertionError(f"data after DLE ETX: {b:#x}")
                        if dle:
                            dle = False
                            if b == at.ETX:
                                ended = True
                            elif b == at.DLE:
                                held.append(b)
                                self.received.append(b)
                        elif b == at.DLE:
                            dle = True
                        else:
                            held.append(b)
                            self.received.append(b)
                if len(held) > XOFF_ABOVE:
                    holding = True
                    self.xoffs += 1
                    self._say(bytes((at.XOFF,)))
            elif holding and len(held) <= XON_AT:
                holding = False
                self._say(bytes((at.XON,)))
            if ended and not held:
                return
            time.sleep(0.002)


@pytest.fixture
def dce() -> Iterator[tuple[FakeDCE, str]]:
    master, slave = pty.openpty()
    fake = FakeDCE(master, RATE / 8 * SPEED)
    th = threading.Thread(target=fake.run, name="fake-dce", daemon=True)
    th.start()
    try:
        yield fake, os.ttyname(slave)
    finally:
        fake.stop.set()
        th.join(5.0)
        os.close(master)
        os.close(slave)
    assert fake.error is None, fake.error


def test_a_long_page_goes_out_at_line_rate_under_xon_xoff(dce: tuple[FakeDCE, str]) -> None:
    fake, device = dce
    page = np.random.default_rng(7).integers(0, 256, 36_000, dtype=np.uint8).tobytes()
    assert page.count(0x11) and page.count(0x13) and page.count(0x10)
    driver = Class1Driver(device, speed=SPEED)
    try:
        t0 = time.monotonic()
        ev = driver.perform(m.SendImage(modulation=96, bit_rate=RATE, data=page))
        took = time.monotonic() - t0
        # the driver honoured the DCE's flow control, in transmit data mode only ...
        assert driver.port.xoff_count >= 3
        # ... and received data with 0x11/0x13 comes through whole afterwards
        frames = driver.perform(m.ReceiveFrames(timeout=5.0))
        image = driver.perform(m.ReceiveImage(modulation=96, bit_rate=RATE, timeout=5.0))
    finally:
        driver.close()
    assert ev == m.Done()
    line_time = len(page) * 8 / RATE
    assert line_time >= 30.0  # far longer than pyserial's old fixed write timeout (10 s)
    assert took >= line_time / SPEED * 0.8, took  # paced by the DCE, not dumped into the pty
    assert bytes(fake.received) == page
    assert fake.xoffs >= 3
    assert isinstance(frames, m.FramesReceived) and frames.frames[0].fif == NSF[3:]
    assert image == m.DataReceived(IMAGE_IN)
    assert fake.commands == ["AT+FTM=96", "AT+FRH=3", "AT+FRM=96"]


def test_a_dce_that_stops_taking_data_ends_the_transfer_at_its_deadline() -> None:
    master, slave = pty.openpty()
    port = ATPort.open(os.ttyname(slave))
    try:
        port.at.mode = at.Mode.DATA_TX  # as after +FTM's CONNECT; nobody reads the pty
        t0 = time.monotonic()
        with pytest.raises(ModemTimeout, match="not taken"):
            port.send_data(bytes(100_000), deadline=t0 + 0.5, flow_control=True)
        assert time.monotonic() - t0 < 2.0
        # hanging up on the full port does not block: what it holds is dropped first
        t1 = time.monotonic()
        port.end_data_now()
        assert time.monotonic() - t1 < 1.0
        left = b""
        while select.select([master], [], [], 0.1)[0]:
            left += os.read(master, 65536)
        assert left.endswith(at.END_OF_DATA)
    finally:
        port.close()
        os.close(master)
        os.close(slave)


class FlowPort:
    """A port whose DCE says XOFF every ``every`` octets taken and XON after the DTE has
    looked ``hold`` times; it counts every octet written from its XOFF to its XON."""

    port = "flow"

    def __init__(self, every: int = 3072, hold: int = 3) -> None:
        self.every, self.hold = every, hold
        self.written = bytearray()
        self.inbox = bytearray()
        self.held = False
        self.looks = 0
        self.holds = 0
        self.overrun = 0
        self._next_xoff = every

    @property
    def in_waiting(self) -> int:
        if self.held:
            self.looks += 1
            if self.looks == self.hold:
                self.inbox.append(at.XON)
        return len(self.inbox)

    def read(self, n: int) -> bytes:
        out = bytes(self.inbox[:n])
        del self.inbox[:n]
        if at.XON in out:
            self.held = False
        return out

    def write(self, data: bytes) -> int:
        if self.held:
            self.overrun += len(data)
        self.written += data
        if len(self.written) >= self._next_xoff:
            self._next_xoff += self.every
            self.holds += 1
            self.held, self.looks = True, 0
            self.inbox.append(at.XOFF)
        return len(data)

    def flush(self) -> None:
        pass


def test_xoff_stops_the_writing_until_xon() -> None:
    fake = FlowPort()
    ticks = iter(range(10**6))
    port = ATPort(fake, clock=lambda: next(ticks) * 0.001)
    port.at.mode = at.Mode.DATA_TX
    data = bytes(range(256)) * 100  # 0x10 doubled, 0x11/0x13 sent as they are
    port.send_data(data, deadline=10**6, flow_control=True)
    assert bytes(fake.written) == at.escape(data) + at.END_OF_DATA
    assert fake.holds >= 8 and port.xoff_count == fake.holds
    assert fake.overrun == 0  # not one octet while the DCE held
    unheeded = FlowPort()
    port2 = ATPort(unheeded, clock=lambda: 0.0)
    port2.at.mode = at.Mode.DATA_TX
    port2.send_data(data, deadline=1.0, flow_control=False)  # frames: no flow control
    assert unheeded.overrun > 0 and port2.xoff_count == 0


def test_a_dce_that_ends_transmit_data_mode_stops_the_writing() -> None:
    fake = FlowPort(every=10**9)
    port = ATPort(fake, clock=lambda: 0.0)
    port.at.send_command("AT+FTM=146", "tx")
    port.at.receive_data(b"\r\nCONNECT\r\n")
    assert port.at.mode is at.Mode.DATA_TX
    fake.inbox += b"\r\nERROR\r\n"  # the DCE gives up (say, the far end hung up)
    port.send_data(bytes(50_000), deadline=1.0, flow_control=True)
    assert len(fake.written) < 50_000
    final = port.next_event(1.0)
    assert isinstance(final, at.Final) and final.result is at.Result.ERROR
