"""The Class 1 DCE interpreter, sans-IO: bytes and line events in, bytes/events/requests out."""

from __future__ import annotations

import pytest

from modem.hdlc import fcs_bytes
from modem.sim.class1_dce import (
    AnswerRequest,
    Class1DCE,
    DialRequest,
    HangupRequest,
    ToDTE,
    ToLine,
)
from modem.sim.line import (
    CallAnswered,
    CallCleared,
    CallOffered,
    CarrierOff,
    CarrierOn,
    Data,
    HdlcFrame,
    LineEvent,
    Tone,
)

DIS = bytes([0xFF, 0x13, 0x80, 0x00, 0xCE, 0xF4])  # a final frame (P/F bit set)
TSI = bytes([0xFF, 0x03, 0x43]) + b"\x04" * 20  # non-final


class Harness:
    """Drives one DCE in simulated time and collects its output."""

    def __init__(self) -> None:
        self.dce = Class1DCE()
        self.now = 0.0
        self.dte = bytearray()
        self.line: list[tuple[float, LineEvent]] = []
        self.requests: list[object] = []

    def _collect(self) -> None:
        for a in self.dce.take_actions():
            if isinstance(a, ToDTE):
                self.dte.extend(a.data)
            elif isinstance(a, ToLine):
                self.line.append((self.now, a.event))
            else:
                self.requests.append(a)

    def at(self, cmd: str) -> str:
        """Send a command line; return (and clear) everything the DCE said so far."""
        self.dce.from_dte(cmd.encode() + b"\r", self.now)
        self._collect()
        return self.take()

    def write(self, data: bytes) -> None:
        self.dce.from_dte(data, self.now)
        self._collect()

    def event(self, ev: LineEvent) -> None:
        self.dce.from_line(ev, self.now)
        self._collect()

    def run(self, seconds: float) -> None:
        """Let simulated time pass, firing every timer on the way."""
        end = self.now + seconds
        while True:
            dl = self.dce.next_deadline()
            if dl is None or dl > end:
                break
            self.now = max(self.now, dl)
            self.dce.tick(self.now)
            self._collect()
        self.now = end
        self.dce.tick(self.now)
        self._collect()

    def take(self) -> str:
        out = self.dte.decode("latin-1")
        self.dte.clear()
        return out

    def take_line(self) -> list[LineEvent]:
        evs = [e for _, e in self.line]
        self.line.clear()
        return evs


def connected(h: Harness) -> None:
    """Put ``h`` in a class 1 call, as the caller, up to the far end's V.21 flags."""
    h.at("ATE0")
    h.at("AT+FCLASS=1")
    h.at("ATD5550101")
    h.run(3)
    assert h.requests == [DialRequest("5550101")]
    h.event(CallAnswered())
    h.event(CarrierOn(3))
    assert h.take() == "\r\nCONNECT\r\n"
    h.take_line()


def test_echo_and_results() -> None:
    h = Harness()
    assert h.at("AT") == "AT\r\r\nOK\r\n"
    assert h.at("ATE0") == "ATE0\r\r\nOK\r\n"
    assert h.at("AT") == "\r\nOK\r\n"
    assert h.at("ATV0") == "0\r"
    assert h.at("ATBOGUS!") == "4\r"
    assert h.at("ATV1Q1") == ""
    assert h.at("ATQ0") == "\r\nOK\r\n"
    assert h.at("AT&F") == "\r\nOK\r\n"  # typed with echo off...
    assert h.at("AT") == "AT\r\r\nOK\r\n"  # ...factory settings: echo back on


def test_garbage_before_at_is_ignored() -> None:
    h = Harness()
    h.at("ATE0")
    assert h.at("\x00\xffxyzAT") == "\r\nOK\r\n"
    assert h.at("at") == "\r\nOK\r\n"


def test_identification_and_class_queries() -> None:
    h = Harness()
    h.at("ATE0")
    assert h.at("AT+FCLASS=?") == "\r\n0,1,1.0\r\n\r\nOK\r\n"
    assert h.at("AT+FCLASS?") == "\r\n0\r\n\r\nOK\r\n"
    assert h.at("AT+FTM=?") == "\r\nERROR\r\n"  # class 0: no fax commands
    assert h.at("AT+FCLASS=1") == "\r\nOK\r\n"
    assert h.at("AT+FCLASS=2") == "\r\nERROR\r\n"
    assert h.at("AT+FTM=?") == "\r\n24,48,72,73,74,96,97,98,121,122,145,146\r\n\r\nOK\r\n"
    assert h.at("AT+FRM=?") == "\r\n24,48,72,73,74,96,97,98,121,122,145,146\r\n\r\nOK\r\n"
    assert h.at("AT+FTH=?") == "\r\n3\r\n\r\nOK\r\n"
    assert h.at("AT+FRH=?") == "\r\n3\r\n\r\nOK\r\n"
    assert h.at("AT+FMI?") == "\r\numfax\r\n\r\nOK\r\n"
    assert "SimModem" in h.at("AT+FMM?")
    assert h.at("AT+FMR?") == "\r\n0.1\r\n\r\nOK\r\n"
    assert "SimModem" in h.at("ATI3")
    assert h.at("ATS0=2") == "\r\nOK\r\n"
    assert h.at("ATS0?") == "\r\n002\r\n\r\nOK\r\n"
    assert h.at("AT+FCLASS=1;+FCLASS?") == "\r\n1\r\n\r\nOK\r\n"


def test_fax_commands_need_a_call() -> None:
    h = Harness()
    h.at("ATE0")
    h.at("AT+FCLASS=1")
    assert h.at("AT+FTH=3") == "\r\nERROR\r\n"
    assert h.at("AT+FRM=96") == "\r\nERROR\r\n"
    assert h.at("AT+FTM=95") == "\r\nERROR\r\n"


def test_dial_sends_cng_then_connect_on_v21_flags() -> None:
    h = Harness()
    h.at("ATE0")
    h.at("AT+FCLASS=1")
    assert h.at("ATDT+1 555-0101") == ""
    h.run(2)
    assert h.requests == [DialRequest("+15550101")]
    assert h.take_line() == [Tone("cng")]
    h.event(CallAnswered())
    h.event(Tone("ced"))
    h.run(3)
    assert h.take() == ""  # CED is not V.21
    h.event(CarrierOff())
    h.event(CarrierOn(3))
    assert h.take() == "\r\nCONNECT\r\n"


def test_dial_no_answer_and_busy_and_no_dialtone() -> None:
    h = Harness()
    h.at("ATE0")
    h.at("AT+FCLASS=1")
    h.at("ATS7=20")
    h.at("ATD5550112")
    h.run(19)
    assert h.take() == ""
    h.run(2)
    assert h.take() == "\r\nNO ANSWER\r\n"
    assert isinstance(h.requests[-1], HangupRequest)

    h.at("ATD5550111")
    h.run(2)
    h.dce.dial_failed("BUSY", h.now)
    h.run(3)
    assert h.take() == "\r\nBUSY\r\n"

    h.dce.no_dialtone = True
    h.at("ATD5550110")
    h.run(5)
    assert h.take() == "\r\nNO DIALTONE\r\n"


def test_receive_hdlc_frames_with_fcs_and_dle_stuffing() -> None:
    h = Harness()
    connected(h)
    frame = bytes([0xFF, 0x03, 0x40, 0x10, 0x20])  # contains a DLE
    h.event(HdlcFrame(frame))
    body = frame + fcs_bytes(frame)
    assert h.take().encode("latin-1") == body.replace(b"\x10", b"\x10\x10") + b"\x10\x03\r\nOK\r\n"
    # The next frame of the same carrier: +FRH=3 connects at once.
    h.event(HdlcFrame(DIS, fcs_ok=False))
    assert h.take() == ""  # buffered until the DTE asks
    out = h.at("AT+FRH=3")
    assert out.startswith("\r\nCONNECT\r\n")
    assert out.endswith("\x10\x03\r\nERROR\r\n")  # bad FCS -> ERROR
    # Carrier ends while the DTE waits for a frame -> NO CARRIER
    assert h.at("AT+FRH=3") == ""
    h.event(CarrierOff())
    assert h.take() == ""  # the old carrier's end is skipped: still waiting
    h.event(CarrierOn(3))
    assert h.take() == "\r\nCONNECT\r\n"
    h.event(CarrierOff())
    assert h.take() == "\r\nNO CARRIER\r\n"


def test_transmit_hdlc_frames() -> None:
    h = Harness()
    connected(h)
    h.event(HdlcFrame(DIS))
    h.take()
    h.take_line()
    assert h.at("AT+FTH=3") == "\r\nCONNECT\r\n"
    assert h.take_line() == [CarrierOn(3)]
    # Non-final frame, DLE stuffed by the DTE: CONNECT for the next one.
    stuffed = TSI[:3] + b"\x10\x10" + TSI[3:]
    h.write(stuffed + b"\x10\x03")
    assert h.take() == "\r\nCONNECT\r\n"
    h.write(DIS + b"\x10\x03")
    assert h.take() == ""  # OK comes when the frame is on the line
    t0 = h.now
    h.run(5)
    evs = h.line
    assert [e for _, e in evs] == [
        HdlcFrame(TSI[:3] + b"\x10" + TSI[3:]),
        HdlcFrame(DIS),
        CarrierOff(),
    ]
    # 1 s of preamble, then (24+3)*8 and (6+3)*8 bits at 300 bit/s
    assert evs[1][0] - t0 == pytest.approx(1.0 + (24 + 3 + 6 + 3) * 8 / 300, abs=0.01)
    assert h.take() == "\r\nOK\r\n"


def test_transmit_image_data_is_paced_and_flow_controlled() -> None:
    h = Harness()
    connected(h)
    h.event(HdlcFrame(DIS))
    h.take()
    assert h.at("AT+FTM=96") == "\r\nCONNECT\r\n"
    assert h.take_line() == [CarrierOn(96)]
    t0 = h.now
    assert h.dce.input_room(h.now) > 1000
    payload = bytes(range(256)) * 4  # 1024 octets including DLEs
    h.write(payload.replace(b"\x10", b"\x10\x10"))
    assert h.dce.input_room(h.now) < 2048 - 1000  # buffer is filling
    h.write(b"\x10\x03")
    h.run(0.5)
    assert h.take() == ""  # still transmitting
    h.run(2)
    assert h.take() == "\r\nOK\r\n"
    data = b"".join(e.data for _, e in h.line if isinstance(e, Data))
    assert data == payload
    last = max(t for t, e in h.line if isinstance(e, Data))
    # V.29 training 253 ms + 1024*8 bits at 9600 bit/s
    assert last - t0 == pytest.approx(0.253 + 1024 * 8 / 9600, abs=0.01)
    assert h.line[-1][1] == CarrierOff()


def test_receive_data_and_carrier_mismatch() -> None:
    h = Harness()
    connected(h)
    h.event(HdlcFrame(DIS))
    h.take()
    # V.21 arrives while the DTE waits for V.29 -> +FCERROR
    h.at("AT+FRM=96")
    h.event(CarrierOn(3))
    assert h.take() == "\r\n+FCERROR\r\n"
    out = h.at("AT+FRH=3")
    assert out == "\r\nCONNECT\r\n"
    h.event(CarrierOff())
    assert h.take() == "\r\nNO CARRIER\r\n"
    # wrong high-speed modulation -> +FCERROR, and its data is dropped
    h.at("AT+FRM=96")
    h.event(CarrierOn(146))
    h.event(Data(b"\x00" * 10))
    h.event(CarrierOff())
    assert h.take() == "\r\n+FCERROR\r\n"
    # the right one: data DLE-doubled, then DLE ETX and NO CARRIER
    h.at("AT+FRM=146")
    h.event(CarrierOn(145))  # V.17 long train heard by a receiver set for short: accepted
    assert h.take() == "\r\nCONNECT\r\n"
    h.event(Data(b"\x01\x10\x02"))
    h.event(CarrierOff())
    assert h.take() == "\x01\x10\x10\x02\x10\x03\r\nNO CARRIER\r\n"


def test_any_character_aborts_receive() -> None:
    h = Harness()
    connected(h)
    h.event(HdlcFrame(DIS))
    h.take()
    h.at("AT+FRM=96")
    h.write(b"\x11")  # XON is not an abort
    assert h.take() == ""
    h.write(b"x")
    assert h.take() == "\r\nOK\r\n"
    assert h.at("AT") == "\r\nOK\r\n"


def test_fts_and_frs() -> None:
    h = Harness()
    connected(h)
    h.event(HdlcFrame(DIS))
    h.take()
    h.at("AT+FTS=8")
    h.run(0.07)
    assert h.take() == ""
    h.run(0.02)
    assert h.take() == "\r\nOK\r\n"
    h.event(CarrierOn(3))
    h.at("AT+FRS=5")
    h.run(1)
    assert h.take() == ""  # carrier present: no silence yet
    h.event(HdlcFrame(DIS))
    h.event(CarrierOff())
    h.run(0.1)
    assert h.take() == "\r\nOK\r\n"
    # +FRS did not eat the frame
    out = h.at("AT+FRH=3")
    assert out.startswith("\r\nCONNECT\r\n") and out.endswith("\r\nOK\r\n")


def test_ring_caller_id_and_auto_answer() -> None:
    h = Harness()
    h.at("ATE0")
    h.at("AT+FCLASS=1")
    h.at("ATS0=2")
    h.event(CallOffered("+15550100", "+15550101", "line1"))
    out = h.take()
    assert out == (
        "\r\nRING\r\n\r\nNMBR = +15550100\r\n\r\nNAME = line1\r\n\r\nNDID = +15550101\r\n"
    )
    h.run(5.9)
    assert h.take() == ""
    h.run(0.2)
    assert h.take() == "\r\nRING\r\n"
    assert h.requests == [AnswerRequest()]
    assert h.take_line() == [Tone("ced")]
    h.run(3.2)  # CED, 75 ms silence, then V.21 flags
    assert h.take_line() == [CarrierOff(), CarrierOn(3)]
    assert h.take() == "\r\nCONNECT\r\n"


def test_far_end_hangup_mid_receive() -> None:
    h = Harness()
    connected(h)
    h.event(HdlcFrame(DIS))
    h.take()
    h.at("AT+FRM=146")
    h.event(CarrierOn(146))
    h.event(Data(b"\x00\x01"))
    h.event(CallCleared("dropped"))
    assert h.take() == "\r\nCONNECT\r\n\x00\x01\x10\x03\r\nNO CARRIER\r\n"
    assert h.at("AT+FRH=3") == "\r\nERROR\r\n"  # no call any more
