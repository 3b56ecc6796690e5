"""A T.38 terminal: runs our unchanged T.30 engine (:mod:`modem.t30`) over IFP packets.

It is the T.38 counterpart of :mod:`modem.t31` (which performs the engine's actions on
a Class 1 modem): each action becomes IFPs to send at given times, and IFPs received
become the engine's events.  Sans-IO: the owner passes ``now`` (seconds, monotonic) in
and takes IFPs out::

    term = T38Terminal(T30Sender(pages, options), now=t, calling=True)
    term.start(t)
    loop: for ifp in term.poll(now): send it ...; term.receive(ifp, now) for each one in;
          wake up at term.next_deadline(); stop when term.finished (term.result says why)

Phase A: the calling terminal sends the CNG indicator and starts its engine at once
(waiting for DIS); the called one sends CED for ``ced_ms``, then its engine's DIS.

Transmission (:mod:`modem.t38.framing`): V.21 frames as HDLC_DATA + FCS_OK fields after
the V21_PREAMBLE indicator; TCF and non-ECM pages as T4_NON_ECM_DATA after the training
indicator; ECM blocks (the engine's HDLC bit stream, deframed here) as HDLC fields on
the high-speed data type; everything paced at the line rate.  A transmission after a
reception starts the T.30 turnaround (75 ms) after the received signal ended.

Reception is half duplex, as on a modem: what arrives while we transmit is dropped;
what arrives between actions waits for the next receive action.  Every wait has a
deadline: the action's own timeout for a signal to start, and for a signal that stops
in the middle (a silent far end), the same timeout capped at T.30's T2 -- so the engine's
T.30 timers always end a call with a silent far end, with the engine's cause.

The terminal's states and what each input does there are the table :data:`TRANSITIONS`.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from modem.errors import HDLCError, T38Error
from modem.hdlc import Frame, hdlc_decode, hdlc_encode, parse_frame
from modem.t30.engine import T2, TURNAROUND_MS, Engine, ecm_preamble_flags
from modem.t30.messages import (
    Action,
    DataReceived,
    Done,
    Event,
    FrameError,
    FramesReceived,
    Hangup,
    LineLost,
    ReceiveFrames,
    ReceiveImage,
    SendFrames,
    SendImage,
    SendTCF,
    Silence,
    TimedOut,
    WrongCarrier,
)
from modem.t38.framing import (
    PACKET_MS,
    V21_MODULATION,
    CarrierOff,
    CarrierOn,
    DataIn,
    FrameIn,
    IfpReceiver,
    LineEvent,
    Schedule,
    Timed,
    TxOptions,
    hdlc_signal,
    indicator_packets,
    non_ecm_signal,
    tone_signal,
)
from modem.t38.ifp import Ifp, Indicator

log = logging.getLogger(__name__)

CED_MS = 3000  # T.30 4.2: CED lasts 2.6 to 4 s
TURNAROUND = TURNAROUND_MS / 1000


class State(enum.Enum):
    IDLE = "idle"  # not started
    TONE = "tone"  # the called side's CED
    SENDING = "sending"  # a signal's IFPs are scheduled; done at its end
    PAUSE = "pause"  # the engine's Silence
    RX_FRAMES = "rx_frames"  # ReceiveFrames
    RX_WAIT_DATA = "rx_wait_data"  # ReceiveTCF / ReceiveImage, no carrier yet
    RX_DATA = "rx_data"  # ReceiveTCF / ReceiveImage, carrier on
    CLOSING = "closing"  # the engine hung up; the last IFPs are going out
    FINISHED = "finished"


class Input(enum.Enum):
    TIMER = "timer"  # the state's deadline passed
    V21_ON = "v21_on"
    HS_ON = "hs_on"  # a high-speed carrier (training indicator or its data)
    V21_FRAME = "v21_frame"
    HS_FRAME = "hs_frame"
    DATA = "data"  # non-ECM data (TCF, page)
    V21_OFF = "v21_off"
    HS_OFF = "hs_off"
    TONE = "tone"


def _input(ev: LineEvent) -> Input:
    if isinstance(ev, CarrierOn):
        return Input.V21_ON if ev.v21 else Input.HS_ON
    if isinstance(ev, CarrierOff):
        return Input.V21_OFF if ev.v21 else Input.HS_OFF
    if isinstance(ev, FrameIn):
        return Input.V21_FRAME if ev.v21 else Input.HS_FRAME
    if isinstance(ev, DataIn):
        return Input.DATA
    return Input.TONE


@dataclass
class _Rx:
    """What the current receive action has collected."""

    frames: list[Frame]
    raw_frames: list[bytes]  # high-speed HDLC frames with a good FCS (ECM)
    data: bytearray
    bad: int = 0
    carrier: bool = False  # the awaited kind of carrier is on


class T38Terminal:
    """Runs ``engine`` over T.38 IFPs (see the module doc).

    ``indicator_repeats``: copies of each indicator sent; ``max_ifp_data``: field data
    octets per IFP at most; ``packet_ms``: the pacing interval of data packets.
    """

    def __init__(self, engine: Engine, *, now: float, calling: bool, indicator_repeats: int = 3,
                 max_ifp_data: int = 256, packet_ms: int = PACKET_MS, ced_ms: int = CED_MS) -> None:
        self.engine = engine
        self.calling = calling
        self.opts = TxOptions(indicator_repeats, packet_ms, max_ifp_data)
        self.ced_ms = ced_ms
        self.state = State.IDLE
        self.deadline: float | None = None
        self._tx: deque[Timed] = deque()
        self._rx = IfpReceiver()
        self._pending: deque[LineEvent] = deque()
        self._action: Action | None = None
        self._got = _Rx([], [], bytearray())
        self._idle = T2
        self._rx_ended: float | None = None  # when the last received signal ended
        self._last_rx = now  # when the last IFP arrived

    # --- the owner's interface ---------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """The engine hung up and everything is sent."""
        return self.state is State.FINISHED

    @property
    def result(self) -> Hangup | None:
        return self.engine.result

    def start(self, now: float) -> None:
        if self.state is not State.IDLE:
            raise T38Error("T.38 terminal already started")
        if self.calling:
            self._schedule(indicator_packets(Indicator.CNG, now, self.opts))
            self._begin(self.engine.start(), now)
        else:
            sched = tone_signal(Indicator.CED, now, self.ced_ms, self.opts)
            self._schedule(sched.packets)
            self._enter(State.TONE, sched.end + TURNAROUND)

    def receive(self, ifp: Ifp, now: float, lost_before: int = 0) -> None:
        """An IFP from the far end; ``lost_before``: IFPs known lost just before it."""
        self._advance(now)
        self._last_rx = now
        events = self._rx.receive(ifp, lost_before)
        if self.state in (State.SENDING, State.TONE, State.CLOSING, State.FINISHED, State.IDLE):
            for ev in events:  # half duplex: not heard while we transmit
                if isinstance(ev, CarrierOff):
                    self._rx_ended = now
            return
        self._pending.extend(events)
        self._pump(now)

    def poll(self, now: float) -> list[Ifp]:
        """IFPs due at or before ``now``, in order."""
        self._advance(now)
        out: list[Ifp] = []
        while self._tx and self._tx[0].at <= now + 1e-9:
            out.append(self._tx.popleft().ifp)
        if self.state is State.CLOSING and not self._tx:
            self._enter(State.FINISHED, None)
        return out

    def next_deadline(self) -> float | None:
        times = [t for t in (self._tx[0].at if self._tx else None, self.deadline) if t is not None]
        return min(times) if times else None

    def hang_up(self, now: float, message: str = "call ended") -> None:
        """The call is gone (BYE, media lost): the engine is told the line was lost and
        nothing more is sent."""
        self._tx.clear()
        self._pending.clear()
        if self.state is State.TONE and self._action is None:
            self._action = self.engine.start()  # gone during our CED: the engine must hear it too
        if self._action is not None and not self.engine.finished:
            self._action = None
            for _ in range(8):  # LineLost ends every engine state at once; this is a guard
                if isinstance(self.engine.step(LineLost(message)), Hangup):
                    break
        self._enter(State.FINISHED, None)

    # --- time -----------------------------------------------------------------------------------
    def _advance(self, now: float) -> None:
        while self.deadline is not None and self.deadline <= now + 1e-9:
            self._step(Input.TIMER, None, self.deadline)

    def _pump(self, now: float) -> None:
        while self._pending and self.state in _LISTENING:
            ev = self._pending.popleft()
            if isinstance(ev, CarrierOff):
                self._rx_ended = now
            self._step(_input(ev), ev, now)

    def _step(self, kind: Input, ev: LineEvent | None, now: float) -> None:
        handler = TRANSITIONS.get((self.state, kind))
        if handler is not None:
            handler(self, ev, now)

    def _enter(self, state: State, deadline: float | None) -> None:
        self.state = state
        self.deadline = deadline

    def _schedule(self, packets: tuple[Timed, ...] | list[Timed]) -> None:
        self._tx.extend(packets)

    # --- engine side ----------------------------------------------------------------------------
    def _complete(self, event: Event, at: float) -> None:
        """The current action ended with ``event`` at ``at``: on to the engine's next."""
        self._action = None
        self._begin(self.engine.step(event), at)

    def _keep(self, ev: LineEvent | None) -> None:
        """Leave ``ev`` for the next receive action (before the engine moves on)."""
        if ev is not None:
            self._pending.appendleft(ev)

    def _tx_start(self, at: float) -> float:
        start = at
        if self._rx_ended is not None:
            start = max(start, self._rx_ended + TURNAROUND)
        return start

    def _begin(self, action: Action, at: float) -> None:
        self._action = action
        if isinstance(action, Hangup):
            log.info("t38 engine hung up", extra={"cause": str(action.cause), "detail": action.message})
            self._pending.clear()
            self._enter(State.CLOSING if self._tx else State.FINISHED, None)
            return
        if isinstance(action, SendFrames | SendTCF | SendImage):
            self._pending.clear()
            sched = self._signal(action, self._tx_start(at))
            self._schedule(sched.packets)
            self._enter(State.SENDING, sched.end)
            return
        if isinstance(action, Silence):
            self._enter(State.PAUSE, at + action.ms / 1000)
            return
        self._got = _Rx([], [], bytearray())
        self._idle = min(action.timeout, T2)
        if isinstance(action, ReceiveFrames):
            self._enter(State.RX_FRAMES, at + action.timeout)
        else:
            self._enter(State.RX_WAIT_DATA, at + action.timeout)
        self._pump(at)

    def _signal(self, action: SendFrames | SendTCF | SendImage, start: float) -> Schedule:
        if isinstance(action, SendFrames):
            return hdlc_signal(V21_MODULATION, action.frames, start, self.opts)
        if isinstance(action, SendTCF):
            return non_ecm_signal(action.modulation, bytes(action.octets), start, self.opts)
        if action.ecm:
            frames = [f for f in hdlc_decode(action.data) if f is not None]
            flags = len(action.data) - len(action.data.lstrip(b"\x7e"))
            return hdlc_signal(action.modulation, frames, start, self.opts, preamble_octets=flags)
        return non_ecm_signal(action.modulation, action.data, start, self.opts)

    # --- handlers: (terminal, event, now) --------------------------------------------------
    def _tone_over(self, _ev: LineEvent | None, now: float) -> None:
        self._rx_ended = None
        self._begin(self.engine.start(), now)

    def _sent(self, _ev: LineEvent | None, now: float) -> None:
        self._complete(Done(), now)

    def _frames_carrier(self, _ev: LineEvent | None, now: float) -> None:
        self._got.carrier = True
        self.deadline = max(self.deadline or now, now + self._idle)

    def _frame(self, ev: LineEvent | None, now: float) -> None:
        assert isinstance(ev, FrameIn)
        got = self._got
        frame: Frame | None = None
        if ev.ok:
            try:
                frame = parse_frame(ev.octets)
            except HDLCError:
                frame = None
        if frame is None:
            got.bad += 1
        elif frame.final:
            got.frames.append(frame)
            self._complete(FramesReceived(tuple(got.frames), got.bad), now)
            return
        else:
            got.frames.append(frame)
        self.deadline = max(self.deadline or now, now + self._idle)

    def _frames_off(self, _ev: LineEvent | None, now: float) -> None:
        got = self._got
        got.carrier = False
        if got.frames:
            self._complete(FramesReceived(tuple(got.frames), got.bad), now)
        elif got.bad:
            self._complete(FrameError(), now)
        # else the carrier came and went: keep listening

    def _frames_timer(self, _ev: LineEvent | None, now: float) -> None:
        got = self._got
        if got.carrier and now < self._last_rx + self._idle:
            self.deadline = self._last_rx + self._idle  # a signal in progress: let it end
        elif got.frames:
            self._complete(FramesReceived(tuple(got.frames), got.bad), now)
        else:
            self._complete(FrameError() if got.bad else TimedOut(), now)

    def _wrong_carrier(self, _ev: LineEvent | None, now: float) -> None:
        self._keep(_ev)  # the V.21 signal is for the next ReceiveFrames
        self._complete(WrongCarrier(), now)

    def _data_carrier(self, _ev: LineEvent | None, now: float) -> None:
        self._enter(State.RX_DATA, now + self._idle)

    def _data_implied(self, ev: LineEvent | None, now: float) -> None:
        self._enter(State.RX_DATA, now + self._idle)
        if ev is not None:
            self._step(_input(ev), ev, now)

    def _data_in(self, ev: LineEvent | None, now: float) -> None:
        assert isinstance(ev, DataIn)
        self._got.data += ev.data
        self.deadline = now + self._idle

    def _hs_frame(self, ev: LineEvent | None, now: float) -> None:
        assert isinstance(ev, FrameIn)
        if ev.ok:
            self._got.raw_frames.append(ev.octets)
        else:
            self._got.bad += 1
        self.deadline = now + self._idle

    def _data_end(self, _ev: LineEvent | None, now: float) -> None:
        action = self._action
        got = self._got
        if isinstance(action, ReceiveImage) and action.ecm:
            payload = b""
            if got.raw_frames:
                payload = hdlc_encode(got.raw_frames,
                                      preamble_flags=ecm_preamble_flags(action.bit_rate))
        else:
            payload = bytes(got.data)
        log.info("t38 rx data", extra={"octets": len(payload), "frames": len(got.raw_frames),
                                       "bad_frames": got.bad})
        self._complete(DataReceived(payload), now)

    def _data_switched(self, ev: LineEvent | None, now: float) -> None:
        self._keep(ev)  # the V.21 signal is for the next ReceiveFrames
        self._data_end(ev, now)

    def _rx_timeout(self, _ev: LineEvent | None, now: float) -> None:
        self._complete(TimedOut(), now)


Handler = Callable[[T38Terminal, LineEvent | None, float], None]

_LISTENING = frozenset({State.RX_FRAMES, State.RX_WAIT_DATA, State.RX_DATA})

St, In = State, Input
#: (state, input) -> handler(terminal, event, now).  Inputs without a row are ignored (a
#: high-speed signal while waiting for frames, a tone, the end of a carrier nobody waits for).
TRANSITIONS: dict[tuple[State, Input], Handler] = {
    (St.TONE, In.TIMER): T38Terminal._tone_over,
    (St.SENDING, In.TIMER): T38Terminal._sent,
    (St.PAUSE, In.TIMER): T38Terminal._sent,
    # ReceiveFrames
    (St.RX_FRAMES, In.V21_ON): T38Terminal._frames_carrier,
    (St.RX_FRAMES, In.V21_FRAME): T38Terminal._frame,
    (St.RX_FRAMES, In.V21_OFF): T38Terminal._frames_off,
    (St.RX_FRAMES, In.TIMER): T38Terminal._frames_timer,
    # ReceiveTCF / ReceiveImage, waiting for the carrier
    (St.RX_WAIT_DATA, In.HS_ON): T38Terminal._data_carrier,
    (St.RX_WAIT_DATA, In.DATA): T38Terminal._data_implied,
    (St.RX_WAIT_DATA, In.HS_FRAME): T38Terminal._data_implied,
    (St.RX_WAIT_DATA, In.V21_ON): T38Terminal._wrong_carrier,
    (St.RX_WAIT_DATA, In.V21_FRAME): T38Terminal._wrong_carrier,
    (St.RX_WAIT_DATA, In.TIMER): T38Terminal._rx_timeout,
    # ... and receiving it
    (St.RX_DATA, In.DATA): T38Terminal._data_in,
    (St.RX_DATA, In.HS_FRAME): T38Terminal._hs_frame,
    (St.RX_DATA, In.HS_OFF): T38Terminal._data_end,
    (St.RX_DATA, In.TIMER): T38Terminal._data_end,
    (St.RX_DATA, In.V21_ON): T38Terminal._data_switched,
    (St.RX_DATA, In.V21_FRAME): T38Terminal._data_switched,
}
del St, In

__all__ = ["CED_MS", "TRANSITIONS", "Input", "State", "T38Terminal"]
