"""The sans-IO T.31 machine alone: scripted AT events in, commands and T.30 events out.

No modem, pty, thread or clock: time is a number passed in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from modem import at, callwatch, t31
from modem.hdlc import FCF, build_frame, fcs_bytes
from modem.t30 import messages as m
from modem.t31 import (
    AbortReceive,
    CarrierUp,
    Command,
    Finished,
    SendData,
    Stalled,
    State,
)

OK = at.Final(at.Result.OK, "OK")
CONNECT = at.Final(at.Result.CONNECT, "CONNECT")
NO_CARRIER = at.Final(at.Result.NO_CARRIER, "NO CARRIER")
ERROR = at.Final(at.Result.ERROR, "ERROR")
FCERROR = at.Final(at.Result.FCERROR, "+FCERROR")

DIS = build_frame(FCF.DIS, b"\x00\x46\x00", final=True)
CSI = build_frame(FCF.CSI, b" " * 20, final=False)


def with_fcs(frame: bytes) -> bytes:
    return frame + fcs_bytes(frame)


def frame_data(frame: bytes) -> list[at.Event]:
    """What the pump passes on for one received frame: data, DLE ETX."""
    return [at.Data(with_fcs(frame)), at.DataEnd()]


def feed(machine: t31.T31, events: list[at.Event], now: float) -> list[t31.Output]:
    out: list[t31.Output] = []
    for ev in events:
        out += machine.receive(ev, now)
    return out


def test_send_frames_after_answer_uses_the_connect_in_hand() -> None:
    mc = t31.T31()
    mc.answered()
    out = mc.perform(m.SendFrames((CSI, DIS)), now=0.0)
    assert out[0] == CarrierUp() and isinstance(out[1], SendData) and out[1].data == CSI
    assert not out[1].flow_control  # frames are not page data
    assert mc.written(0.1) == [] and mc.state is State.FRAME_RESULT
    out = mc.receive(CONNECT, 1.0)  # next frame
    assert isinstance(out[0], SendData) and out[0].data == DIS
    mc.written(1.1)
    assert mc.receive(OK, 2.0) == [Finished(m.Done())]


def test_send_frames_waits_out_the_turnaround_then_fth() -> None:
    mc = t31.T31()
    mc.rx_ended = 10.0  # a frame was received, ended at t = 10 s
    assert mc.perform(m.SendFrames((DIS,)), now=10.02) == []
    assert not mc.awaiting and mc.deadline == pytest.approx(10.075)  # "wake me at 10.075"
    assert mc.timeout(10.075) == [Command("AT+FTH=3", "tx")]
    assert mc.awaiting and mc.deadline == pytest.approx(10.075 + t31.CONNECT_TIMEOUT)
    out = mc.receive(CONNECT, 10.2)
    assert out[0] == CarrierUp() and isinstance(out[1], SendData)


def test_turnaround_already_over_sends_at_once_and_speed_scales_it() -> None:
    mc = t31.T31()
    mc.rx_ended = 1.0
    assert mc.perform(m.SendFrames((DIS,)), now=2.0) == [Command("AT+FTH=3", "tx")]
    fast = t31.T31(speed=5.0)
    fast.rx_ended = 1.0
    fast.perform(m.SendFrames((DIS,)), now=1.0)
    assert fast.deadline == pytest.approx(1.015)


def test_the_dce_ending_the_carrier_early_reopens_fth() -> None:
    mc = t31.T31()
    mc.perform(m.SendFrames((CSI, DIS)), now=0.0)
    mc.receive(CONNECT, 0.5)
    mc.written(0.6)
    assert mc.receive(OK, 1.0) == [Command("AT+FTH=3", "tx")]  # OK before the last frame
    out = mc.receive(CONNECT, 1.5)
    assert isinstance(out[0], SendData) and out[0].data == DIS
    mc.written(1.6)
    assert mc.receive(OK, 2.5) == [Finished(m.Done())]
    mc.perform(m.SendFrames((CSI, DIS)), now=3.0)
    mc.receive(CONNECT, 3.5)
    mc.written(3.6)
    mc.receive(OK, 4.0)
    assert mc.receive(ERROR, 4.1) == [Finished(m.LineLost("sending HDLC: OK"))]


def test_fth_refused_is_line_lost_and_silence_is_a_timeout() -> None:
    mc = t31.T31()
    mc.perform(m.SendFrames((DIS,)), now=0.0)
    assert mc.receive(NO_CARRIER, 0.2) == [Finished(m.LineLost("+FTH=3: NO CARRIER"))]
    mc.perform(m.SendFrames((DIS,)), now=1.0)
    assert mc.timeout(11.0) == [Stalled("no result for 'AT+FTH=3' within 10s")]
    mc.perform(m.SendFrames((DIS,)), now=20.0)
    mc.receive(CONNECT, 20.1)
    assert mc.stalled("port full", 30.0) == [Stalled("port full")]


def test_receive_frames_retries_after_fcerror_error_and_a_bare_no_carrier() -> None:
    mc = t31.T31()
    out = mc.perform(m.ReceiveFrames(timeout=6.0), now=0.0)
    assert out == [Command("AT+FRH=3", "rx")] and mc.deadline == 6.0
    assert mc.receive(FCERROR, 0.5) == [Command("AT+FRH=3", "rx")]  # high speed: listen again
    assert mc.deadline == 6.0  # the same overall deadline
    assert mc.receive(ERROR, 1.0) == [Command("AT+FRH=3", "rx")]
    assert mc.receive(NO_CARRIER, 1.5) == [Command("AT+FRH=3", "rx")]  # carrier came and went
    assert mc.rx_ended == 1.5
    assert mc.receive(CONNECT, 2.0) == [] and mc.state is State.FRH_DATA
    assert feed(mc, frame_data(CSI), 2.5) == []
    assert mc.receive(OK, 2.6) == [Command("AT+FRH=3", "rx")]  # not final: the next one
    assert mc.deadline == pytest.approx(2.6 + t31.NEXT_FRAME)
    mc.receive(CONNECT, 2.7)
    feed(mc, frame_data(DIS), 3.0)
    out = mc.receive(OK, 3.1)
    assert len(out) == 1 and isinstance(out[0], Finished)
    ev = out[0].event
    assert isinstance(ev, m.FramesReceived) and [f.fcf for f in ev.frames] == [FCF.CSI, FCF.DIS]
    assert ev.bad == 0 and mc.rx_ended == 3.1  # turnaround counts from the final frame


def test_receive_frames_after_dial_reads_the_data_in_hand() -> None:
    mc = t31.T31()
    mc.dialled()
    assert mc.perform(m.ReceiveFrames(timeout=35.0), now=0.0) == []
    assert mc.state is State.FRH_DATA
    out = feed(mc, frame_data(DIS), 1.0) + mc.receive(OK, 1.0)
    assert isinstance(out[0], Finished) and isinstance(out[0].event, m.FramesReceived)


def test_receive_frames_with_bad_fcs_then_silence_is_frame_error() -> None:
    mc = t31.T31()
    mc.perform(m.ReceiveFrames(timeout=3.0), now=0.0)
    mc.receive(CONNECT, 0.5)
    feed(mc, [at.Data(b"\xff\x13\x80\x00\x00"), at.DataEnd()], 1.0)
    assert mc.receive(ERROR, 1.1) == [Command("AT+FRH=3", "rx")]  # bad FCS: the DCE says ERROR
    assert mc.timeout(3.0) == [AbortReceive(), Finished(m.FrameError())]


def test_receive_frames_timeouts() -> None:
    mc = t31.T31()
    mc.perform(m.ReceiveFrames(timeout=3.0), now=0.0)
    assert mc.timeout(3.0) == [AbortReceive(), Finished(m.TimedOut())]  # nothing at all
    mc.perform(m.ReceiveFrames(timeout=3.0), now=10.0)
    mc.receive(CONNECT, 10.5)
    mc.receive(at.Data(b"\xff\x13"), 11.0)
    assert mc.deadline == 11.0 + t31.FRAME_IDLE  # each octet renews the idle deadline
    assert mc.timeout(16.0) == [AbortReceive(), Finished(m.FrameError())]  # no DLE ETX
    mc.perform(m.ReceiveFrames(timeout=3.0), now=20.0)
    mc.receive(CONNECT, 20.5)
    feed(mc, frame_data(DIS), 21.0)
    assert mc.timeout(26.0) == [Finished(m.FrameError())]  # no result after the frame


def test_xon_xoff_octets_in_received_frames_are_data() -> None:
    mc = t31.T31()
    mc.dialled()
    nsf = build_frame(FCF.NSF, bytes([0x11, 0x13, 0x10, 0x11, 0x13]), final=True)
    mc.perform(m.ReceiveFrames(timeout=5.0), now=0.0)
    parser = at.ATMachine()
    parser.expect_data()
    events = parser.receive_data(at.escape(with_fcs(nsf)) + at.END_OF_DATA + b"\r\nOK\r\n")
    out = feed(mc, events, 0.5)
    assert isinstance(out[0], Finished) and isinstance(out[0].event, m.FramesReceived)
    assert out[0].event.frames[0].fif == bytes([0x11, 0x13, 0x10, 0x11, 0x13])


def test_send_image_deadline_follows_the_bit_rate() -> None:
    data = bytes(54_000)  # 30 s at 14,400 bit/s
    mc = t31.T31()
    mc.rx_ended = 0.0
    assert mc.perform(m.SendImage(146, 14400, data), now=1.0) == [Command("AT+FTM=146", "tx")]
    out = mc.receive(CONNECT, 1.5)
    assert out[0] == CarrierUp()
    send = out[1]
    assert isinstance(send, SendData) and send.flow_control and send.data == data
    line = 30.0
    assert send.deadline == pytest.approx(1.5 + line * (1 + t31.TRANSFER_SLACK) + t31.TRANSFER_MARGIN)
    assert mc.written(35.0) == [] and mc.deadline == pytest.approx(35.0 + t31.RESULT_MARGIN + line)
    assert mc.receive(OK, 40.0) == [Finished(m.Done())]
    slow = t31.T31()
    slow.perform(m.SendImage(96, 9600, data), now=0.0)
    (_, send9600) = slow.receive(CONNECT, 0.0)
    assert isinstance(send9600, SendData) and send9600.deadline > send.deadline  # 45 s of line


def test_send_image_failures() -> None:
    mc = t31.T31()
    mc.perform(m.SendTCF(146, 14400, 2700), now=0.0)
    assert mc.receive(ERROR, 0.1) == [Finished(m.LineLost("+FTM=146: ERROR"))]
    mc.perform(m.SendImage(146, 14400, b"\x00" * 100), now=1.0)
    mc.receive(CONNECT, 1.1)
    assert mc.stalled("x", 30.0) == [Finished(m.LineLost("modem stopped taking data: x"))]
    mc.perform(m.SendImage(146, 14400, b"\x00" * 100), now=40.0)
    mc.receive(CONNECT, 40.1)
    mc.written(40.2)
    assert mc.receive(NO_CARRIER, 41.0) == [Finished(m.LineLost("after image data: NO CARRIER"))]
    mc.perform(m.SendImage(146, 14400, b"\x00" * 100), now=50.0)
    mc.receive(CONNECT, 50.1)
    mc.written(50.2)
    (stalled,) = mc.timeout(100.0)
    assert isinstance(stalled, Stalled) and "+FTM=146 data" in stalled.message


def test_receive_image() -> None:
    mc = t31.T31()
    assert mc.perform(m.ReceiveImage(146, 14400, 6.0), now=0.0) == [Command("AT+FRM=146", "rx")]
    assert mc.receive(CONNECT, 1.0) == [] and mc.deadline == 1.0 + t31.IMAGE_IDLE
    mc.receive(at.Data(b"\x11\x13page"), 2.0)
    mc.receive(at.Data(b" data"), 3.0)
    assert mc.receive(at.DataEnd(), 4.0) == []
    assert mc.receive(NO_CARRIER, 4.1) == [Finished(m.DataReceived(b"\x11\x13page data"))]
    assert mc.rx_ended == 4.1


@pytest.mark.parametrize("final,event", [
    (FCERROR, m.WrongCarrier()),  # V.21 frames instead of the high-speed carrier
    (NO_CARRIER, m.TimedOut()),
    (ERROR, m.LineLost("+FRM: ERROR")),
])
def test_receive_tcf_results(final: at.Final, event: m.Event) -> None:
    mc = t31.T31()
    mc.perform(m.ReceiveTCF(146, 14400, 6.0), now=0.0)
    assert mc.receive(final, 0.5) == [Finished(event)]


def test_receive_tcf_timeouts() -> None:
    mc = t31.T31()
    mc.perform(m.ReceiveTCF(146, 14400, 6.0), now=0.0)
    assert mc.timeout(6.0) == [AbortReceive(), Finished(m.TimedOut())]
    mc.perform(m.ReceiveTCF(146, 14400, 6.0), now=10.0)
    mc.receive(CONNECT, 10.5)
    mc.receive(at.Data(b"\x00" * 100), 11.0)
    assert mc.deadline == 11.0 + t31.TCF_IDLE
    assert mc.timeout(14.0) == [AbortReceive(), Finished(m.DataReceived(b"\x00" * 100))]
    assert mc.rx_ended is None  # the carrier's end was never seen
    mc.perform(m.ReceiveTCF(146, 14400, 6.0), now=20.0)
    mc.receive(CONNECT, 20.5)
    mc.receive(at.DataEnd(), 21.0)
    assert mc.timeout(26.0) == [Finished(m.DataReceived(b""))] and mc.rx_ended == 26.0


def test_silence_after_receiving_is_a_pause_else_fts() -> None:
    mc = t31.T31()
    mc.rx_ended = 5.0
    assert mc.perform(m.Silence(75), now=5.0) == [] and not mc.awaiting
    assert mc.timeout(5.075) == [Finished(m.Done())]
    assert mc.perform(m.Silence(75), now=6.0) == [Command("AT+FTS=7")]
    assert mc.receive(OK, 6.1) == [Finished(m.Done())]
    mc.perform(m.Silence(75), now=7.0)
    assert mc.receive(ERROR, 7.1) == [Finished(m.LineLost("+FTS: ERROR"))]
    mc.perform(m.Silence(75), now=8.0)
    assert mc.timeout(13.0) == [Stalled("no result for 'AT+FTS=7' within 5s")]


def test_stray_lines_are_ignored() -> None:
    mc = t31.T31()
    mc.perform(m.ReceiveFrames(timeout=3.0), now=0.0)
    for ev in (at.Echo("AT+FRH=3"), at.Info("junk"), at.Ring(), at.CallerId("NMBR", "1")):
        assert mc.receive(ev, 0.1) == []
    assert mc.state is State.FRH_CONNECT
    assert mc.receive(at.Timeout(at.Mode.COMMAND, "AT+FRH=3"), 3.0) == [
        AbortReceive(), Finished(m.TimedOut())]


def test_every_state_with_a_deadline_handles_it() -> None:
    """The table: every state but IDLE takes a timeout (a deadline always ends somewhere)."""
    with_timeout = {s for (s, i) in t31.TRANSITIONS if i is t31.Input.TIMEOUT}
    writing = {State.FRAME_WRITING, State.FTM_WRITING}  # bounded by the data's deadline
    assert with_timeout | writing | {State.IDLE} == set(State)


def test_call_watch_collects_caller_id_after_the_ring() -> None:
    w = callwatch.CallWatch(deadline=60.0)
    w.event(at.CallerId("NMBR", "5551001"))
    w.tick(1.0)
    assert w.state is callwatch.Watch.WAITING
    w.event(at.Ring())
    w.tick(2.0)
    assert w.state is callwatch.Watch.GRACE and w.deadline == 2.0 + callwatch.RING_GRACE
    w.event(at.CallerId("NAME", "Peer A"))
    w.event(at.Ring())  # a second RING inside the grace is not counted
    w.tick(2.5)
    assert w.state is callwatch.Watch.DONE and w.call is not None
    assert (w.call.caller_number, w.call.caller_name, w.call.rings) == ("5551001", "Peer A", 1)
    quiet = callwatch.CallWatch(deadline=5.0)
    quiet.tick(5.0)
    assert quiet.state is callwatch.Watch.DONE and quiet.call is None


@pytest.mark.parametrize("module", ["t31", "callwatch"])
def test_the_machines_import_no_clock_thread_socket_or_serial(module: str) -> None:
    source = Path(__file__).parents[2] / "modem" / f"{module}.py"
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"time", "threading", "socket", "serial", "select", "os", "asyncio"}
