"""The sans-IO AT machine: results, echo, unsolicited lines, DLE data, split input."""

from __future__ import annotations

import pytest

from modem import at
from modem.errors import ModemProtocolError


def feed_bytewise(m: at.ATMachine, data: bytes) -> list[at.Event]:
    events: list[at.Event] = []
    for i in range(len(data)):
        events += m.receive_data(data[i:i + 1])
    return events


def merged(events: list[at.Event]) -> list[at.Event]:
    """Join consecutive Data events (bytewise feeding splits them)."""
    out: list[at.Event] = []
    for ev in events:
        if isinstance(ev, at.Data) and out and isinstance(out[-1], at.Data):
            out[-1] = at.Data(out[-1].data + ev.data)
        else:
            out.append(ev)
    return out


@pytest.mark.parametrize("text,result", [
    ("OK", at.Result.OK),
    ("ERROR", at.Result.ERROR),
    ("CONNECT", at.Result.CONNECT),
    ("CONNECT 9600", at.Result.CONNECT),
    ("NO CARRIER", at.Result.NO_CARRIER),
    ("BUSY", at.Result.BUSY),
    ("NO DIALTONE", at.Result.NO_DIALTONE),
    ("NO DIAL TONE", at.Result.NO_DIALTONE),
    ("NO ANSWER", at.Result.NO_ANSWER),
    ("+FCERROR", at.Result.FCERROR),
])
def test_verbose_final_results(text: str, result: at.Result) -> None:
    m = at.ATMachine()
    m.send_command("ATD123")
    evs = m.receive_data(f"\r\n{text}\r\n".encode())
    assert evs == [at.Final(result, text)]
    assert m.mode is (at.Mode.COMMAND if result is at.Result.CONNECT else at.Mode.IDLE)


@pytest.mark.parametrize("code,result", [
    ("0", at.Result.OK), ("1", at.Result.CONNECT), ("3", at.Result.NO_CARRIER),
    ("4", at.Result.ERROR), ("6", at.Result.NO_DIALTONE), ("7", at.Result.BUSY),
    ("8", at.Result.NO_ANSWER), ("+F4", at.Result.FCERROR),
])
def test_numeric_results_after_v0(code: str, result: at.Result) -> None:
    m = at.ATMachine()
    m.send_command("ATV0")
    assert m.receive_data(b"0\r") == [at.Final(at.Result.OK, "0")]
    assert not m.verbose
    m.send_command("ATD5")
    assert m.receive_data(code.encode() + b"\r") == [at.Final(result, code)]


def test_numeric_ring_and_info_lines_in_verbose_mode() -> None:
    m = at.ATMachine()
    m.send_command("ATI0")
    # in verbose mode a line of digits is information, not a result code
    assert m.receive_data(b"\r\n56000\r\n\r\nOK\r\n") == [at.Info("56000"),
                                                          at.Final(at.Result.OK, "OK")]


def test_echo_is_recognised_once() -> None:
    m = at.ATMachine()
    wire = m.send_command("AT+FCLASS=?")
    assert wire == b"AT+FCLASS=?\r"
    evs = feed_bytewise(m, b"AT+FCLASS=?\r\r\n0,1,1.0\r\n\r\nOK\r\n")
    assert evs == [at.Echo("AT+FCLASS=?"), at.Info("0,1,1.0"), at.Final(at.Result.OK, "OK")]


def test_unsolicited_ring_and_caller_id_while_idle_and_mid_command() -> None:
    m = at.ATMachine()
    evs = m.receive_data(b"\r\nDATE=1122\r\nTIME=0510\r\nNMBR = 5551002\r\nNAME=Peer B\r\n"
                         b"NDID=4711\r\nRING\r\n")
    assert evs == [at.CallerId("DATE", "1122"), at.CallerId("TIME", "0510"),
                   at.CallerId("NMBR", "5551002"), at.CallerId("NAME", "Peer B"),
                   at.CallerId("NDID", "4711"), at.Ring()]
    m.send_command("AT+FCLASS=1")
    evs = feed_bytewise(m, b"\r\nRING\r\n\r\nOK\r\n")
    assert evs == [at.Ring(), at.Final(at.Result.OK, "OK")]  # RING does not end the command


def test_hdlc_receive_with_split_dle_sequences() -> None:
    m = at.ATMachine()
    m.send_command("AT+FRH=3", after_connect="rx")
    frame = bytes([0xFF, 0x13, 0x10, 0x80, 0x10, 0x10])
    wire = b"\r\nCONNECT\r\n" + at.escape(frame) + b"\x10\x03\r\nOK\r\n"
    for split in range(1, len(wire)):
        m2 = at.ATMachine()
        m2.send_command("AT+FRH=3", after_connect="rx")
        evs = merged(m2.receive_data(wire[:split]) + m2.receive_data(wire[split:]))
        assert evs == [at.Final(at.Result.CONNECT, "CONNECT"), at.Data(frame), at.DataEnd(),
                       at.Final(at.Result.OK, "OK")], split
    evs = merged(feed_bytewise(m, wire))
    assert evs[1] == at.Data(frame)


def test_dle_sub_means_two_dles_and_unknown_dle_codes_are_dropped() -> None:
    m = at.ATMachine()
    m.expect_data()
    evs = merged(feed_bytewise(m, b"a\x10\x1ab\x10\x10c\x10Xd\x10\x03"))
    assert evs == [at.Data(b"a\x10\x10b\x10cd"), at.DataEnd()]
    assert m.mode is at.Mode.COMMAND


def test_data_containing_result_like_text_is_data() -> None:
    m = at.ATMachine()
    m.send_command("AT+FRM=96", after_connect="rx")
    evs = merged(m.receive_data(b"CONNECT\r\nRING\r\nOK\r\n\x10\x03\r\nNO CARRIER\r\n"))
    assert evs == [at.Final(at.Result.CONNECT, "CONNECT"), at.Data(b"RING\r\nOK\r\n"),
                   at.DataEnd(), at.Final(at.Result.NO_CARRIER, "NO CARRIER")]


def test_escape_round_trip_and_dle_sub() -> None:
    data = bytes(range(256)) * 3 + b"\x10\x10\x10"
    assert at.unescape(at.escape(data)) == data
    assert at.unescape(at.escape(data, use_sub=True)) == data
    assert at.escape(b"\x10\x10", use_sub=True) == b"\x10\x1a"
    assert at.escape(b"\x10") == b"\x10\x10"


def test_transmit_connect_then_ok_and_per_frame_connect() -> None:
    m = at.ATMachine()
    m.send_command("AT+FTH=3", after_connect="tx")
    assert m.receive_data(b"\r\nCONNECT\r\n") == [at.Final(at.Result.CONNECT, "CONNECT")]
    assert m.mode is at.Mode.DATA_TX
    m.data_sent()
    assert m.receive_data(b"\r\nCONNECT\r\n") == [at.Final(at.Result.CONNECT, "CONNECT")]
    assert m.mode is at.Mode.DATA_TX  # next frame
    m.data_sent()
    assert m.receive_data(b"\r\nOK\r\n") == [at.Final(at.Result.OK, "OK")]
    assert m.mode is at.Mode.IDLE


def test_timeout_is_an_input() -> None:
    m = at.ATMachine()
    m.send_command("AT+FRH=3", after_connect="rx")
    assert m.timeout() == [at.Timeout(at.Mode.COMMAND, "AT+FRH=3")]
    assert m.mode is at.Mode.COMMAND  # the machine does not decide what a timeout means


def test_command_while_busy_is_refused() -> None:
    m = at.ATMachine()
    m.send_command("AT")
    with pytest.raises(ModemProtocolError):
        m.send_command("ATH")
