"""T.38 framing: paced schedules of IFPs for line signals, and IFPs back to line events."""

from __future__ import annotations

from modem.hdlc import bit_reverse, build_frame
from modem.t38.framing import (
    CarrierOff,
    CarrierOn,
    DataIn,
    FrameIn,
    IfpReceiver,
    ToneIn,
    TxOptions,
    hdlc_signal,
    non_ecm_signal,
    with_repeats,
)
from modem.t38.ifp import DataField, DataType, FieldType, IfpData, IfpIndicator, Indicator


def test_non_ecm_signal_is_paced_and_bounded() -> None:
    data = bytes(range(256)) * 20  # 5120 octets at 9600 bit/s: 4.27 s
    sched = non_ecm_signal(96, data, 5.0, TxOptions(indicator_repeats=2, max_ifp_data=10, packet_ms=20))
    packets = sched.packets
    assert [p.ifp for p in packets[:2]] == [IfpIndicator(Indicator.V29_9600_TRAINING)] * 2
    assert [p.ifp for p in packets[-2:]] == [IfpIndicator(Indicator.NO_SIGNAL)] * 2
    body = [p for p in packets[2:-2]]
    assert all(isinstance(p.ifp, IfpData) and p.ifp.data_type is DataType.V29_9600 for p in body)
    sent = b"".join(f.data for p in body for f in p.ifp.fields)  # type: ignore[union-attr]
    assert sent == bit_reverse(data)  # wire order: first-sent bit is the MSB
    assert all(sum(len(f.data) for f in p.ifp.fields) <= 10 for p in body)  # type: ignore[union-attr]
    last = body[-1].ifp
    assert isinstance(last, IfpData) and last.fields[-1] == DataField(FieldType.T4_NON_ECM_SIG_END)
    first_data = body[0].at
    assert abs(first_data - (5.0 + 0.234 + 0.02)) < 1e-9  # training, then the first 20 ms
    assert abs(sched.end - (5.234 + len(data) * 8 / 9600)) < 0.021
    # by any time, no more data has gone than the line could have carried
    for p in body:
        upto = sum(len(f.data) for q in body if q.at <= p.at for f in q.ifp.fields)  # type: ignore[union-attr]
        assert upto <= (p.at - 5.234) * 9600 / 8 + 1e-6


def test_hdlc_signal_fields_and_preamble() -> None:
    frames = [build_frame(0x42, b"1234", final=False), build_frame(0x82, b"\x00\x62")]
    sched = hdlc_signal(3, frames, 0.0, TxOptions(indicator_repeats=1))
    datas = [p for p in sched.packets if isinstance(p.ifp, IfpData)]
    fields = [f for p in datas for f in p.ifp.fields]  # type: ignore[union-attr]
    assert [f.type for f in fields if not f.data] == [FieldType.HDLC_FCS_OK, FieldType.HDLC_FCS_OK_SIG_END]
    for p in datas:  # a field without data always ends its packet
        assert all(f.data for f in p.ifp.fields[:-1])  # type: ignore[union-attr]
    # at a high rate a frame's end and the next frame's start fall in one interval: the
    # next frame's data waits for the next interval, one datagram per interval
    fast = [p for p in hdlc_signal(146, frames * 20, 0.0, TxOptions(indicator_repeats=1)).packets
            if isinstance(p.ifp, IfpData)]
    times = [p.at for p in fast]
    assert len(times) == len(set(times))
    assert datas[0].at >= 1.0  # after the 1 s V.21 preamble
    octets = sum(len(f) + 3 for f in frames)
    assert abs(sched.end - (1.0 + octets * 8 / 300)) < 0.03


def test_receiver_events_and_losses() -> None:
    rx = IfpReceiver()
    frame = build_frame(0x84)
    wire = bit_reverse(frame)
    assert rx.receive(IfpIndicator(Indicator.CED)) == [ToneIn(Indicator.CED)]
    assert rx.receive(IfpIndicator(Indicator.V21_PREAMBLE)) == [CarrierOn(DataType.V21)]
    assert rx.receive(IfpIndicator(Indicator.V21_PREAMBLE)) == []  # a repeat
    assert rx.receive(IfpData(DataType.V21, (DataField(FieldType.HDLC_DATA, wire[:2]),))) == []
    got = rx.receive(IfpData(DataType.V21, (DataField(FieldType.HDLC_DATA, wire[2:]),
                                            DataField(FieldType.HDLC_FCS_OK_SIG_END))))
    assert got == [FrameIn(frame, True, True), CarrierOff(DataType.V21)]
    # high-speed data whose training indicator was lost: the carrier is inferred
    got = rx.receive(IfpData(DataType.V17_14400, (DataField(FieldType.HDLC_DATA, wire),)))
    assert got == [CarrierOn(DataType.V17_14400)]
    # an IFP lost inside a frame: its FCS_OK cannot vouch for it
    got = rx.receive(IfpData(DataType.V17_14400, (DataField(FieldType.HDLC_FCS_OK),)), lost_before=1)
    assert got == [FrameIn(frame, False, False)]
    got = rx.receive(IfpData(DataType.V17_14400, (DataField(FieldType.HDLC_DATA, wire),
                                                   DataField(FieldType.HDLC_FCS_OK))))
    assert got == [FrameIn(frame, True, False)]
    got = rx.receive(IfpIndicator(Indicator.NO_SIGNAL))
    assert got == [CarrierOff(DataType.V17_14400)]
    got = rx.receive(IfpData(DataType.V27TER_4800, (DataField(FieldType.T4_NON_ECM_SIG_END, b"\x80"),)))
    assert got == [CarrierOn(DataType.V27TER_4800), DataIn(b"\x01"), CarrierOff(DataType.V27TER_4800)]


def test_repeats_of_a_signals_last_packet_start_nothing() -> None:
    """spandsp asks for the packet that ends a signal to be sent more than once (FreeSWITCH
    puts each copy on the wire with its own sequence number): the copies are not a new
    carrier, else a TCF after DCS would be taken for a V.21 carrier (the wrong one)."""
    rx = IfpReceiver()
    frame = build_frame(0x83)
    end = IfpData(DataType.V21, (DataField(FieldType.HDLC_DATA, bit_reverse(frame)),
                                 DataField(FieldType.HDLC_FCS_OK_SIG_END)))
    rx.receive(IfpIndicator(Indicator.V21_PREAMBLE))
    assert rx.receive(end) == [FrameIn(frame, True, True), CarrierOff(DataType.V21)]
    assert rx.receive(end) == [] and rx.receive(end) == []
    tcf_end = IfpData(DataType.V17_14400, (DataField(FieldType.T4_NON_ECM_SIG_END, b"\x00" * 54),))
    assert rx.receive(IfpIndicator(Indicator.V17_14400_LONG_TRAINING)) == [CarrierOn(DataType.V17_14400)]
    got = rx.receive(tcf_end)
    assert got == [DataIn(b"\x00" * 54), CarrierOff(DataType.V17_14400)]
    assert rx.receive(tcf_end) == []
    # the same packet after something else is new data again
    rx.receive(IfpIndicator(Indicator.NO_SIGNAL))
    assert rx.receive(tcf_end)[0] == CarrierOn(DataType.V17_14400)


def test_an_indicators_repeats_go_out_as_one_datagram() -> None:
    no_signal = IfpIndicator(Indicator.NO_SIGNAL)
    end = IfpData(DataType.V21, (DataField(FieldType.HDLC_FCS_OK_SIG_END),))
    assert with_repeats([end, no_signal, no_signal, no_signal, end]) == [(end, 1), (no_signal, 3), (end, 1)]
    assert with_repeats([]) == []
