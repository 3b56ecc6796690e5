"""The pump over a scripted in-memory port (no timing: the clock is a counter)."""

from __future__ import annotations

import pytest
import serial

from modem import at
from modem.errors import ModemTimeout
from modem.pump import ATPort


class ScriptedPort:
    """Answers each written command line with canned bytes; can stop taking writes."""

    def __init__(self, replies: dict[bytes, bytes], *, stuck_after: int | None = None) -> None:
        self.replies = replies
        self.inbox = bytearray()
        self.written = bytearray()
        self.stuck_after = stuck_after
        self.port = "scripted"

    @property
    def in_waiting(self) -> int:
        return len(self.inbox)

    def read(self, n: int) -> bytes:
        out = bytes(self.inbox[:n])
        del self.inbox[:n]
        return out

    def write(self, data: bytes) -> int:
        if self.stuck_after is not None and len(self.written) + len(data) > self.stuck_after:
            raise serial.SerialTimeoutException("Write timeout")
        self.written += data
        for cmd, reply in self.replies.items():
            if data == cmd:
                self.inbox += reply
        return len(data)

    def flush(self) -> None:
        pass

    def reset_input_buffer(self) -> None:
        self.inbox.clear()

    def close(self) -> None:
        pass


class Ticks:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 0.1
        return self.t


def test_command_collects_info_and_final_and_keeps_unsolicited() -> None:
    port = ScriptedPort({b"AT+FCLASS=?\r": b"AT+FCLASS=?\r\r\nRING\r\n\r\n0,1,1.0\r\n\r\nOK\r\n"})
    p = ATPort(port, clock=Ticks())
    resp = p.command("AT+FCLASS=?")
    assert resp.result is at.Result.OK and resp.lines == ["0,1,1.0"]
    assert list(p.unsolicited) == [at.Ring()]


def test_command_timeout_raises_and_resets() -> None:
    p = ATPort(ScriptedPort({}), clock=Ticks())
    with pytest.raises(ModemTimeout):
        p.command("AT", timeout=1.0)
    assert p.at.mode is at.Mode.IDLE


def test_receive_hdlc_frame() -> None:
    frame = bytes([0xFF, 0x13, 0x84, 0x10, 0x55, 0xAA])
    port = ScriptedPort({b"AT+FRH=3\r": b"\r\nCONNECT\r\n" + at.escape(frame) + b"\x10\x03"
                         b"\r\nOK\r\n"})
    p = ATPort(port, clock=Ticks())
    assert p.command("AT+FRH=3", after_connect="rx").result is at.Result.CONNECT
    data, complete = p.receive_data(idle_timeout=2.0)
    assert complete and data == frame
    assert p.wait_final(2.0).result is at.Result.OK


def test_receive_without_dle_etx_is_aborted() -> None:
    port = ScriptedPort({b"AT+FRM=96\r": b"\r\nCONNECT\r\n\x00\x00\x00", b"\x18": b"\r\nOK\r\n"})
    p = ATPort(port, clock=Ticks())
    p.command("AT+FRM=96", after_connect="rx")
    data, complete = p.receive_data(idle_timeout=1.0)
    assert not complete and data == b"\x00\x00\x00"
    assert port.written.endswith(b"\x18")  # the abort character
    assert p.at.mode is at.Mode.IDLE


def test_send_data_escapes_and_ends_with_dle_etx() -> None:
    port = ScriptedPort({b"AT+FTM=96\r": b"\r\nCONNECT\r\n"})
    p = ATPort(port, clock=Ticks())
    p.command("AT+FTM=96", after_connect="tx")
    p.send_data(b"\x10\x00\x10")
    assert port.written.endswith(b"\x10\x10\x00\x10\x10\x10\x03")
    assert p.at.mode is at.Mode.COMMAND  # waiting for OK


def test_dce_that_stops_taking_data_gives_modem_timeout() -> None:
    port = ScriptedPort({b"AT+FTM=146\r": b"\r\nCONNECT\r\n"}, stuck_after=5000)
    p = ATPort(port, clock=Ticks())
    p.command("AT+FTM=146", after_connect="tx")
    with pytest.raises(ModemTimeout):
        p.send_data(bytes(20000), timeout=100.0)
    stalled = ScriptedPort({b"AT+FTM=146\r": b"\r\nCONNECT\r\n"})
    p2 = ATPort(stalled, clock=Ticks())
    p2.command("AT+FTM=146", after_connect="tx")
    with pytest.raises(ModemTimeout, match="not taken"):
        p2.send_data(bytes(20000), timeout=0.5, chunk=100)  # the clock runs out first
