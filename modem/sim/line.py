"""What travels on a simulated phone line, and the small codecs around it.

A call on the simulated exchange is a pair of endpoints exchanging
:data:`LineEvent` objects.  The vocabulary is deliberately the T.38 one
(indicators and data), so it maps one to one onto Class 1 (+FTH/+FRH/+FTM/+FRM)
and onto spandsp's T.38 terminal:

* :class:`Tone` - CNG (calling tone) or CED (answer tone).
* :class:`CarrierOn` - a modulation starts; ``mod`` is the T.31 modulation code
  (3 = V.21 channel 2 HDLC, 24/48 = V.27ter, 72/96 = V.29, 73..146 = V.17).
* :class:`HdlcFrame` - one V.21 HDLC frame, octets as a Class 1 DTE gives them
  (address, control, FCF, FIF; no FCS), with whether its FCS checked out.
* :class:`Data` - high-speed bit stream (TCF, T.4 image data, or ECM frames
  HDLC-framed by the DTE), octets in T.31 order: the least significant bit of
  each octet is the first one on the line.
* :class:`CarrierOff` - the carrier (or tone) stops.

Call control travels the same way: :class:`CallOffered` (to the called party),
:class:`CallAnswered` (to the caller) and :class:`CallCleared` (to either).

Also here: :class:`SimClock` (simulated time with a speed factor),
:class:`Faults` (fault injection knobs), a streaming bit-level HDLC
encoder/decoder (over :mod:`modem.hdlc`'s stuffing and deframing) used to carry ECM
frames between Class 1 bit streams and T.38 HDLC fields, and :class:`T30Sniffer`,
which watches V.21 frames to know when a high-speed carrier is TCF and whether ECM
was negotiated.
"""

from __future__ import annotations

import random
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from modem.hdlc import HdlcDeframer, fcs_bytes, flag_bits, stuffed_bits
from modem.hdlc import bit_reverse as bit_reverse
from modem.hdlc import fcs_ok as fcs_ok

# --- modulations ---------------------------------------------------------------------------

#: T.31 modulation code -> (name, bit rate, training seconds before data).
MODULATIONS: dict[int, tuple[str, int, float]] = {
    3: ("V.21", 300, 0.0),
    24: ("V.27ter", 2400, 0.943),
    48: ("V.27ter", 4800, 0.708),
    72: ("V.29", 7200, 0.253),
    73: ("V.17", 7200, 1.393),
    74: ("V.17", 7200, 0.142),
    96: ("V.29", 9600, 0.253),
    97: ("V.17", 9600, 1.393),
    98: ("V.17", 9600, 0.142),
    121: ("V.17", 12000, 1.393),
    122: ("V.17", 12000, 0.142),
    145: ("V.17", 14400, 1.393),
    146: ("V.17", 14400, 0.142),
}

#: Codes listed by +FTM=? / +FRM=? (and +FTH=? / +FRH=?).
HIGH_SPEED_CODES: tuple[int, ...] = (24, 48, 72, 73, 74, 96, 97, 98, 121, 122, 145, 146)

#: Preamble of V.21 flags before the first frame (T.30 5.3.1: 1 s +/- 15 %).
V21_PREAMBLE_S = 1.0


def bit_rate(mod: int) -> int:
    return MODULATIONS[mod][1]


def training_time(mod: int) -> float:
    return MODULATIONS[mod][2]


def compatible(tx_mod: int, rx_mod: int) -> bool:
    """Can a receiver set for ``rx_mod`` demodulate a carrier sent as ``tx_mod``?

    Same modulation family and bit rate; V.17 long and short training are
    accepted interchangeably (a receiver trained long keeps the equaliser).
    """
    if tx_mod == rx_mod:
        return True
    a, b = MODULATIONS.get(tx_mod), MODULATIONS.get(rx_mod)
    return a is not None and b is not None and a[0] == b[0] == "V.17" and a[1] == b[1]


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tone:
    kind: str  # "cng" | "ced"


@dataclass(frozen=True, slots=True)
class CarrierOn:
    mod: int


@dataclass(frozen=True, slots=True)
class CarrierOff:
    pass


@dataclass(frozen=True, slots=True)
class HdlcFrame:
    data: bytes
    fcs_ok: bool = True


@dataclass(frozen=True, slots=True)
class Data:
    data: bytes


@dataclass(frozen=True, slots=True)
class CallOffered:
    caller: str
    called: str
    caller_name: str = ""
    data: bool = False  # a data modem calls (no fax tones): what adaptive answer tells apart


@dataclass(frozen=True, slots=True)
class CallAnswered:
    pass


@dataclass(frozen=True, slots=True)
class CallCleared:
    reason: str = "hangup"  # "hangup" | "dropped" | "cancelled"


SignalEvent = Tone | CarrierOn | CarrierOff | HdlcFrame | Data
ControlEvent = CallOffered | CallAnswered | CallCleared
LineEvent = SignalEvent | ControlEvent


def describe(ev: LineEvent) -> str:
    """Short text for logs and call records."""
    if isinstance(ev, Data):
        return f"data[{len(ev.data)}]"
    if isinstance(ev, HdlcFrame):
        fcf = ev.data[2] if len(ev.data) > 2 else -1
        return f"frame fcf=0x{fcf:02x} len={len(ev.data)}{'' if ev.fcs_ok else ' BAD-FCS'}"
    if isinstance(ev, CarrierOn):
        return f"carrier-on {ev.mod}"
    return type(ev).__name__


# --- clock ------------------------------------------------------------------------------------


class Participant:
    """A thread whose progress simulated time waits for (see :class:`SimClock`)."""

    __slots__ = ("active", "last", "name")

    def __init__(self, name: str, now: float) -> None:
        self.name = name
        self.last = now
        self.active = False


class SimClock:
    """Simulated time: ``speed`` simulated seconds pass per wall second.

    Every component of a network reads the same clock, so carriers take
    ``bits / bit_rate`` simulated seconds, which is ``1/speed`` of that on the wall.

    Stall guard (on by default when ``speed > 1``).  On a loaded machine a thread
    can go without CPU for tens of milliseconds; at speed 50 that is seconds of
    simulated time, enough for the far end's T.30 timers to expire before the
    starved side has said anything.  So simulated time waits for the simulation:

    * while any participant is in a call, a keeper thread looks every 2 ms; if
      it was itself starved (the whole process was), the gap beyond ``max_gap``
      wall seconds is not counted;
    * threads that drive the simulation register as :class:`Participant` and
      :meth:`beat` each time round their loop; while an active participant has
      not beaten for ``max_gap``, simulated time stands still.

    So no thread of the simulation falls more than about ``max_gap * speed``
    simulated seconds behind the others.  With no call in progress (ringing,
    dialling, idle) time runs freely.  External DTE processes (efax, a
    driver in another process) run on the wall clock regardless.
    """

    KEEPER_PERIOD = 0.002
    DEAD_AFTER = 2.0  # wall seconds: a participant this late is stuck, stop waiting for it

    def __init__(
        self,
        speed: float = 1.0,
        stall_guard: bool | None = None,
        max_gap: float = 0.01,
        time_source: Callable[[], float] = time.monotonic,
        keeper: bool = True,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self.max_gap = max_gap
        self.stall_guard = speed > 1 if stall_guard is None else stall_guard
        self._time = time_source
        self._lock = threading.Lock()
        self._t0 = self._time()
        self._last_keep = self._t0
        self._frozen = 0.0
        self._last_sim = 0.0
        self._parts: list[Participant] = []
        self.stalls = 0  # process stalls not counted
        self.waits = 0  # keeper ticks spent waiting for a late participant
        self._stop = threading.Event()
        if self.stall_guard and keeper:
            ref = weakref.ref(self)
            threading.Thread(target=_keep, args=(ref, self._stop), name="simclock",
                             daemon=True).start()

    # --- reading --------------------------------------------------------------------------

    def now(self) -> float:
        with self._lock:
            t = self._time()
            if self.stall_guard:
                self._keep_locked(t)  # the first reader after a stall must not see it
            sim = (t - self._t0 - self._frozen) * self.speed
            if sim < self._last_sim:
                sim = self._last_sim
            self._last_sim = sim
            return sim

    def wall(self, sim_seconds: float) -> float:
        """Wall seconds that ``sim_seconds`` of simulated time take (when nothing stalls)."""
        return max(0.0, sim_seconds) / self.speed

    def sleep(self, sim_seconds: float) -> None:
        time.sleep(self.wall(sim_seconds))

    def poll_interval(self, wall_timeout: float) -> float:
        """A wait a participant may block for: capped so it keeps beating."""
        if self.stall_guard:
            return min(wall_timeout, self.KEEPER_PERIOD)
        return wall_timeout

    # --- participants ---------------------------------------------------------------------

    def participant(self, name: str) -> Participant:
        p = Participant(name, self._time())
        with self._lock:
            self._parts.append(p)
        return p

    def release(self, p: Participant) -> None:
        with self._lock:
            p.active = False
            if p in self._parts:
                self._parts.remove(p)

    def beat(self, p: Participant, active: bool | None = None) -> float:
        """``p`` is making progress now; returns :meth:`now`."""
        p.last = self._time()
        if active is not None:
            p.active = active
        return self.now()

    # --- keeper ---------------------------------------------------------------------------

    def keep(self) -> None:
        """One keeper tick (the keeper thread calls this every 2 ms)."""
        with self._lock:
            self._keep_locked(self._time())

    def _keep_locked(self, t: float) -> None:
        gap = t - self._last_keep
        if gap <= 0:
            return
        self._last_keep = t
        active = [p for p in self._parts if p.active]
        if not active:
            return  # no call in progress: nothing is timing-sensitive, let time run
        if gap > self.max_gap:  # nobody read the clock for a while: the process stalled
            self._frozen += gap - self.max_gap
            self.stalls += 1
            gap = self.max_gap
        for p in active:
            if self.max_gap < t - p.last < self.DEAD_AFTER:
                self._frozen += gap  # wait for the late participant
                self.waits += 1
                break

    def close(self) -> None:
        self._stop.set()


def _keep(ref: weakref.ReferenceType[SimClock], stop: threading.Event) -> None:
    while not stop.wait(SimClock.KEEPER_PERIOD):
        clock = ref()
        if clock is None:
            return
        clock.keep()
        del clock


# --- faults -----------------------------------------------------------------------------------


@dataclass
class Faults:
    """Fault injection for one endpoint; change the fields at any time.

    ``busy``/``no_answer``/``no_dialtone`` act at call set-up.  ``bit_error_rate``
    flips bits in page data (high-speed carriers other than TCF) in both
    directions of any call this endpoint is in; ``tcf_errors`` extends that to
    TCF.  ``drop_after_page_bytes`` clears the call once that many octets of page
    data have crossed it.  ``unresponsive`` makes a simulated modem ignore the DTE
    entirely (no echo, no result codes).  ``dcn_after_pages``: the endpoint confirms
    that many pages (MCF), then answers the next post-page command with DCN instead
    of MCF, as a far end that gives up mid call.
    """

    busy: bool = False
    no_answer: bool = False
    no_dialtone: bool = False
    bit_error_rate: float = 0.0
    tcf_errors: bool = False
    drop_after_page_bytes: int | None = None
    unresponsive: bool = False
    dcn_after_pages: int | None = None


# --- bits and HDLC ----------------------------------------------------------------------------


class HdlcBitEncoder:
    """Frames octets into an HDLC bit stream (flags, zero-bit stuffing, FCS), T.31 bit order,
    a piece at a time: what is not yet a whole octet waits for the next piece.

    The stuffing is :func:`modem.hdlc.stuffed_bits`, the same the T.30 engine sends with.
    """

    def __init__(self) -> None:
        self._pending = np.empty(0, dtype=np.uint8)  # bits short of an octet, first-sent first

    def _emit(self, *parts: np.ndarray) -> bytes:
        bits = np.concatenate((self._pending, *parts))
        whole = len(bits) - len(bits) % 8
        self._pending = bits[whole:]
        return np.packbits(bits[:whole], bitorder="little").tobytes()

    def flags(self, count: int = 1) -> bytes:
        return self._emit(flag_bits(count))

    def frame(self, payload: bytes, good_fcs: bool = True) -> bytes:
        body = payload + (fcs_bytes(payload) if good_fcs else bytes(2))
        return self._emit(stuffed_bits(body), flag_bits(1))

    def flush(self) -> bytes:
        """Closing flags, then idle ones up to an octet boundary; returns what is left."""
        pad = -(len(self._pending) + 16) % 8
        return self._emit(flag_bits(2), np.ones(pad, dtype=np.uint8))


class HdlcBitDecoder:
    """Finds HDLC frames in a bit stream (T.31 bit order); yields (payload, fcs_ok).

    :class:`modem.hdlc.HdlcDeframer`, the deframing the T.30 engine receives with.
    """

    def __init__(self) -> None:
        self._deframer = HdlcDeframer()

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        return self._deframer.feed(data)


def flip_bits(data: bytes, rate: float, rng: random.Random) -> tuple[bytes, int]:
    """Flip each bit of ``data`` with probability ``rate``; returns (data, flips)."""
    if rate <= 0 or not data:
        return data, 0
    import math

    out = bytearray(data)
    nbits = len(out) * 8
    flips = 0
    log_q = math.log1p(-min(rate, 0.999999))
    pos = -1
    while True:
        pos += 1 + int(math.log(1.0 - rng.random()) / log_q)
        if pos >= nbits:
            break
        out[pos >> 3] ^= 1 << (pos & 7)
        flips += 1
    return bytes(out), flips


# --- T.30 sniffing ----------------------------------------------------------------------------

FCF_DCS = 0x82  # X bit (0x01) may be set
FCF_DIS = 0x80
FCF_CFR = 0x84
FCF_FTT = 0x44
FCF_MCF = 0x8C
FCF_RTN = 0x4C
FCF_PPR = 0xBC
FCF_DCN = 0xFA


def fcf_of(frame: bytes) -> int:
    """The FCF of a T.30 frame, with the X (sender) bit removed."""
    return frame[2] & 0xFE if len(frame) > 2 else -1


class T30Sniffer:
    """Watches a call's V.21 frames (both directions) and high-speed carriers.

    It knows whether the next high-speed carrier is TCF (one follows every
    DCS) and whether the last DCS asked for ECM (DIS/DCS bit 27).
    """

    def __init__(self) -> None:
        self.ecm = False
        self.tcf_next = False
        self.in_tcf = False
        self.page_bytes = 0
        self.dcs_count = 0
        self.fcfs: list[int] = []
        self._lock = threading.Lock()

    def frame(self, data: bytes) -> None:
        with self._lock:
            fcf = fcf_of(data)
            self.fcfs.append(fcf)
            if fcf == FCF_DCS:
                self.dcs_count += 1
                self.tcf_next = True
                self.ecm = len(data) > 6 and bool(data[6] & 0x04)

    def carrier_on(self, mod: int) -> None:
        with self._lock:
            if mod != 3:
                self.in_tcf = self.tcf_next
                self.tcf_next = False

    def carrier_off(self) -> None:
        with self._lock:
            self.in_tcf = False


@dataclass
class CarrierRecord:
    """One carrier seen on a call, for tests and logs (times are simulated seconds)."""

    sender: str
    mod: int
    start: float
    end: float = 0.0
    octets: int = 0
    frames: list[int] = field(default_factory=list)  # FCFs of V.21 frames
    tcf: bool = False
    data_start: float | None = None  # first / last high-speed data seen on the line
    data_end: float | None = None

    @property
    def rate(self) -> int:
        """Bit rate of the modulation."""
        return bit_rate(self.mod)
