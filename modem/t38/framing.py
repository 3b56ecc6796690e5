"""Between T.30 line signals and T.38 IFP packets, both ways (sans-IO).

Transmit: a line signal (V.21 HDLC frames, TCF, a non-ECM page, an ECM block) becomes
a :class:`Schedule` of IFPs with send times: the modulation's indicator (repeated),
then, after its training (or V.21 flag preamble), the data PACED at the modulation's
bit rate -- every ``packet_ms`` a packet with the octets the line carried meanwhile --
ending with a SIG_END field and the NO_SIGNAL indicator.

Receive: :class:`IfpReceiver` turns IFPs back into line events (:class:`CarrierOn`,
:class:`FrameIn`, :class:`DataIn`, :class:`CarrierOff`, :class:`ToneIn`), inferring a
carrier from data when its indicator was lost, and marking a frame bad when IFPs were
lost inside it (T.38 carries no FCS: the sender's FCS_OK cannot vouch for what we lost).

Bit order: IFP field data is as on the wire (first-sent bit = MSB); line events and the
T.30 engine use line order (first-sent bit = LSB).  This module reverses at that
boundary and nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from modem.hdlc import bit_reverse
from modem.t38.ifp import DataField, DataType, FieldType, Ifp, IfpData, IfpIndicator, Indicator

V21_MODULATION = 3  # T.31 code of V.21 channel 2
V21_PREAMBLE_MS = 1000  # T.30 5.3.1: flags for 1 s +- 15 % before the first frame
FCS_LINE_OCTETS = 3  # FCS and the closing flag, on the line after each frame's octets


@dataclass(frozen=True, slots=True)
class Carrier:
    """A T.31 modulation in T.38 terms."""

    indicator: Indicator
    data_type: DataType
    bit_rate: int
    lead_ms: int  # training (or preamble) before the first data


#: T.31 modulation code -> carrier; lead times are spandsp's (t38_core.c modem_startup_time).
CARRIERS: dict[int, Carrier] = {
    3: Carrier(Indicator.V21_PREAMBLE, DataType.V21, 300, V21_PREAMBLE_MS),
    24: Carrier(Indicator.V27TER_2400_TRAINING, DataType.V27TER_2400, 2400, 943),
    48: Carrier(Indicator.V27TER_4800_TRAINING, DataType.V27TER_4800, 4800, 708),
    72: Carrier(Indicator.V29_7200_TRAINING, DataType.V29_7200, 7200, 234),
    96: Carrier(Indicator.V29_9600_TRAINING, DataType.V29_9600, 9600, 234),
    73: Carrier(Indicator.V17_7200_LONG_TRAINING, DataType.V17_7200, 7200, 1393),
    74: Carrier(Indicator.V17_7200_SHORT_TRAINING, DataType.V17_7200, 7200, 142),
    97: Carrier(Indicator.V17_9600_LONG_TRAINING, DataType.V17_9600, 9600, 1393),
    98: Carrier(Indicator.V17_9600_SHORT_TRAINING, DataType.V17_9600, 9600, 142),
    121: Carrier(Indicator.V17_12000_LONG_TRAINING, DataType.V17_12000, 12000, 1393),
    122: Carrier(Indicator.V17_12000_SHORT_TRAINING, DataType.V17_12000, 12000, 142),
    145: Carrier(Indicator.V17_14400_LONG_TRAINING, DataType.V17_14400, 14400, 1393),
    146: Carrier(Indicator.V17_14400_SHORT_TRAINING, DataType.V17_14400, 14400, 142),
}

#: training indicator -> the data type it announces
INDICATOR_DATA: dict[Indicator, DataType] = {c.indicator: c.data_type for c in CARRIERS.values()}


def carrier(modulation: int) -> Carrier:
    try:
        return CARRIERS[modulation]
    except KeyError:
        raise ValueError(f"no T.38 carrier for T.31 modulation {modulation}") from None


# Pacing interval: spandsp's (its t38_terminal sends a chunk every 30 ms).  Every 20 ms
# put half as many again datagrams on the wire, and under jitter more of them overtake one
# another: bench/sip.py measured fewer pages at redundancy 1 than the reference then.
PACKET_MS = 30


@dataclass(frozen=True, slots=True)
class TxOptions:
    indicator_repeats: int = 3  # copies of each indicator (T.38 allows repeats; receivers ignore them)
    packet_ms: int = PACKET_MS  # pacing interval
    max_ifp_data: int = 256  # field data octets per IFP at most

    def __post_init__(self) -> None:
        if self.indicator_repeats < 1 or self.packet_ms < 1 or self.max_ifp_data < 1:
            raise ValueError(f"bad T.38 transmit options {self!r}")


@dataclass(frozen=True, slots=True)
class Timed:
    at: float
    ifp: Ifp


@dataclass(frozen=True, slots=True)
class Schedule:
    """IFPs to send, in time order, and when the signal is over on the line."""

    packets: tuple[Timed, ...]
    end: float


# A piece of a signal: field type, its data (wire order), line octets after it (FCS...).
Segment = tuple[FieldType, bytes, int]


def indicator_packets(ind: Indicator, at: float, opts: TxOptions) -> list[Timed]:
    return [Timed(at, IfpIndicator(ind))] * opts.indicator_repeats


class _Packer:
    """Fields due at one instant -> IFPs: at most ``limit`` data octets each, and a field
    without data always ends its packet (so no packet depends on PER's sub-octet fields
    between a data-less field and the next, which some decoders mishandle, and no frame's
    data starts after another frame's end in one IFP, which Wireshark's T.30 reassembly
    -- our independent check -- cannot follow)."""

    def __init__(self, data_type: DataType, at: float, limit: int, out: list[Timed]) -> None:
        self.data_type, self.at, self.limit, self.out = data_type, at, limit, out
        self.fields: list[DataField] = []
        self.size = 0

    def flush(self) -> None:
        if self.fields:
            self.out.append(Timed(self.at, IfpData(self.data_type, tuple(self.fields))))
            self.fields, self.size = [], 0

    def add(self, ftype: FieldType, data: bytes) -> None:
        if not data:
            self.fields.append(DataField(ftype))
            self.flush()
            return
        while data:
            room = self.limit - self.size
            if room <= 0:
                self.flush()
                continue
            chunk, data = data[:room], data[room:]
            self.fields.append(DataField(ftype, chunk))
            self.size += len(chunk)


def pace(data_type: DataType, segments: Sequence[Segment], start: float, bit_rate: int,
         opts: TxOptions) -> Schedule:
    """The segments sent from ``start`` at ``bit_rate``: a packet every ``packet_ms`` with
    the data the line carried in that interval; a field without data goes out once the
    line octets before it (its frame's FCS and flag) have passed."""
    out: list[Timed] = []
    tick = opts.packet_ms / 1000
    octets_per_tick = bit_rate * tick / 8
    seg, off, base = 0, 0, 0  # segment index, its data octets sent, line octets before it
    k = 0
    while seg < len(segments):
        k += 1
        at = start + k * tick
        cutoff = math.floor(k * octets_per_tick + 1e-9)
        packer = _Packer(data_type, at, opts.max_ifp_data, out)
        while seg < len(segments):
            ftype, data, after = segments[seg]
            if data:
                upto = min(len(data), cutoff - base)
                if upto > off:
                    packer.add(ftype, data[off:upto])
                    off = upto
                if off < len(data):
                    break
            elif base + after > cutoff:
                break
            else:
                packer.add(ftype, b"")
            base += len(data) + after
            seg, off = seg + 1, 0
            if not data:  # a frame's end closed this interval's packet: the next frame's
                break  # data goes in the next one (no burst of two datagrams at one instant)
        packer.flush()
    end = start + k * tick
    return Schedule(tuple(out), end)


def _signal(c: Carrier, segments: list[Segment], start: float, opts: TxOptions,
            lead_ms: int | None = None) -> Schedule:
    lead = (c.lead_ms if lead_ms is None else lead_ms) / 1000
    body = pace(c.data_type, segments, start + lead, c.bit_rate, opts)
    packets = [*indicator_packets(c.indicator, start, opts), *body.packets,
               *indicator_packets(Indicator.NO_SIGNAL, body.end, opts)]
    return Schedule(tuple(packets), body.end)


def hdlc_signal(modulation: int, frames: Sequence[bytes], start: float, opts: TxOptions, *,
                preamble_octets: int = 0) -> Schedule:
    """HDLC frames (line-order octets without FCS) on ``modulation``: per frame HDLC_DATA
    and FCS_OK, the last FCS_OK_SIG_END.  ``preamble_octets`` of flags (an ECM block's
    synchronisation) follow the training; V.21 has its 1 s preamble."""
    c = carrier(modulation)
    segments: list[Segment] = []
    for i, frame in enumerate(frames):
        last = i == len(frames) - 1
        segments.append((FieldType.HDLC_DATA, bit_reverse(frame), 0))
        segments.append((FieldType.HDLC_FCS_OK_SIG_END if last else FieldType.HDLC_FCS_OK, b"",
                         FCS_LINE_OCTETS))
    if not frames:
        segments.append((FieldType.HDLC_SIG_END, b"", 0))
    lead_ms = c.lead_ms + preamble_octets * 8000 // c.bit_rate
    return _signal(c, segments, start, opts, lead_ms)


def non_ecm_signal(modulation: int, data: bytes, start: float, opts: TxOptions) -> Schedule:
    """TCF or a non-ECM page (line order) on ``modulation``: T4_NON_ECM_DATA, then
    T4_NON_ECM_SIG_END."""
    c = carrier(modulation)
    segments: list[Segment] = [(FieldType.T4_NON_ECM_DATA, bit_reverse(data), 0),
                               (FieldType.T4_NON_ECM_SIG_END, b"", 0)]
    return _signal(c, segments, start, opts)


def tone_signal(ind: Indicator, start: float, ms: int, opts: TxOptions) -> Schedule:
    """A tone (CED, CNG) lasting ``ms``, then NO_SIGNAL."""
    end = start + ms / 1000
    return Schedule((*indicator_packets(ind, start, opts),
                     *indicator_packets(Indicator.NO_SIGNAL, end, opts)), end)


# --- receive -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CarrierOn:
    data_type: DataType

    @property
    def v21(self) -> bool:
        return self.data_type is DataType.V21


@dataclass(frozen=True, slots=True)
class CarrierOff:
    data_type: DataType

    @property
    def v21(self) -> bool:
        return self.data_type is DataType.V21


@dataclass(frozen=True, slots=True)
class FrameIn:
    octets: bytes  # line order, without FCS
    ok: bool
    v21: bool


@dataclass(frozen=True, slots=True)
class DataIn:
    data: bytes  # line order


@dataclass(frozen=True, slots=True)
class ToneIn:
    indicator: Indicator


LineEvent = CarrierOn | CarrierOff | FrameIn | DataIn | ToneIn

_FRAME_END = {
    FieldType.HDLC_FCS_OK: (True, False),
    FieldType.HDLC_FCS_BAD: (False, False),
    FieldType.HDLC_FCS_OK_SIG_END: (True, True),
    FieldType.HDLC_FCS_BAD_SIG_END: (False, True),
}


def with_repeats(ifps: list[Ifp]) -> list[tuple[Ifp, int]]:
    """``ifps`` due at one instant as (IFP, copies): consecutive copies of one IFP (an
    indicator's repeats) become one entry, to go out as that many copies of ONE UDPTL
    datagram, one sequence number, as spandsp-based stacks (FreeSWITCH, rtpengine) send
    them.  Numbered apart, the copies would fill the redundancy of the datagrams that
    follow with repeats of themselves, and an end of signal lost with them could not be
    recovered (bench/sip.py measured it: 7 of 20 pages at 5 % loss with redundancy 2)."""
    out: list[tuple[Ifp, int]] = []
    for ifp in ifps:
        if out and out[-1][0] == ifp:
            out[-1] = (ifp, out[-1][1] + 1)
        else:
            out.append((ifp, 1))
    return out


class IfpReceiver:
    """IFPs in, line events out (see the module doc)."""

    def __init__(self) -> None:
        self.carrier: DataType | None = None  # the carrier on now
        self._hdlc = bytearray()  # the frame in progress (wire order)
        self._damaged = False  # IFPs were lost since the frame in progress began
        # The data IFP that ended the last signal: stacks send that one more than once
        # (spandsp's transmit count, as FreeSWITCH puts it on the wire), and a copy must
        # not start a carrier again.
        self._ending: IfpData | None = None

    def receive(self, ifp: Ifp, lost_before: int = 0) -> list[LineEvent]:
        """``lost_before``: IFPs known lost just before this one (from UDPTL numbering)."""
        out: list[LineEvent] = []
        if lost_before:
            self._damaged = True
        if isinstance(ifp, IfpIndicator):
            self._ending = None
            self._indicator(ifp.indicator, out)
        elif self.carrier is None and ifp == self._ending:
            pass  # a repeat of the packet that ended the signal
        else:
            self._ending = None
            self._data(ifp, out)
            if self.carrier is None:
                self._ending = ifp
        return out

    def _off(self, out: list[LineEvent]) -> None:
        if self.carrier is not None:
            if self._hdlc:  # a frame cut off by the carrier's end
                out.append(FrameIn(bit_reverse(bytes(self._hdlc)), False,
                                   self.carrier is DataType.V21))
            out.append(CarrierOff(self.carrier))
        self.carrier = None
        self._hdlc.clear()
        self._damaged = False

    def _on(self, dtype: DataType, out: list[LineEvent]) -> None:
        if self.carrier is dtype:
            return  # a repeated indicator, or V.21 preamble between frames
        self._off(out)
        self.carrier = dtype
        out.append(CarrierOn(dtype))

    def _indicator(self, ind: Indicator, out: list[LineEvent]) -> None:
        if ind is Indicator.NO_SIGNAL:
            self._off(out)
        elif ind in (Indicator.CNG, Indicator.CED):
            self._off(out)
            out.append(ToneIn(ind))
        elif ind is Indicator.V21_PREAMBLE:
            self._on(DataType.V21, out)
        elif ind in INDICATOR_DATA:
            self._on(INDICATOR_DATA[ind], out)
        else:  # V.8 / V.34 / V.33: not ours; the carrier we knew is gone
            self._off(out)

    def _data(self, ifp: IfpData, out: list[LineEvent]) -> None:
        dtype = ifp.data_type
        if dtype > DataType.V17_14400:
            return
        v21 = dtype is DataType.V21
        for f in ifp.fields:
            if self.carrier is not dtype:
                self._on(dtype, out)  # data without (or after a lost) indicator
            t = f.type
            if t is FieldType.HDLC_DATA:
                self._hdlc += f.data
            elif t in _FRAME_END:
                ok, end = _FRAME_END[t]
                self._hdlc += f.data
                if self._hdlc:
                    out.append(FrameIn(bit_reverse(bytes(self._hdlc)), ok and not self._damaged, v21))
                self._hdlc.clear()
                self._damaged = False
                if end:
                    self._off(out)
            elif t is FieldType.HDLC_SIG_END:
                self._off(out)
            elif t is FieldType.T4_NON_ECM_DATA:
                if f.data:
                    out.append(DataIn(bit_reverse(f.data)))
            elif t is FieldType.T4_NON_ECM_SIG_END:
                if f.data:
                    out.append(DataIn(bit_reverse(f.data)))
                self._off(out)


__all__ = [
    "CARRIERS",
    "INDICATOR_DATA",
    "PACKET_MS",
    "V21_MODULATION",
    "Carrier",
    "CarrierOff",
    "CarrierOn",
    "DataIn",
    "FrameIn",
    "IfpReceiver",
    "LineEvent",
    "Schedule",
    "Timed",
    "ToneIn",
    "TxOptions",
    "carrier",
    "hdlc_signal",
    "indicator_packets",
    "non_ecm_signal",
    "pace",
    "tone_signal",
    "with_repeats",
]
