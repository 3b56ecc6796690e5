"""Sans-IO T.31 (Class 1) DTE: T.30 actions in, AT commands out; AT events in, T.30 events out.

:class:`T31` performs one T.30 action at a time over a Class 1 DCE (model: h11).  The
owner calls :meth:`T31.perform` with the action and the time, then feeds what the port
produced: AT events (:meth:`T31.receive`), the outcome of a data write it was asked for
(:meth:`T31.written` / :meth:`T31.stalled`), or the passing of :attr:`T31.deadline`
(:meth:`T31.timeout`).  Each call returns outputs for the owner to carry out, in order:

* :class:`Command` -- write an AT command (``after_connect`` says what CONNECT means);
* :class:`SendData` -- write a DLE-escaped data block and DLE ETX before ``deadline``,
  honouring the modem's XON/XOFF when ``flow_control`` is set;
* :class:`AbortReceive` -- end a +FRH/+FRM by sending a character;
* :class:`CarrierUp` -- the DCE is transmitting (preamble or training on the line), so
  the owner may spend a moment on its own bookkeeping;
* :class:`Finished` -- the action's T.30 event: the action is over;
* :class:`Stalled` -- the modem did not answer in time (the owner raises its timeout).

:attr:`T31.deadline` is when the machine wants to be told the time if nothing else
happens; :attr:`T31.awaiting` says whether the port is expected to speak before it (a
turnaround pause expects nothing).  The machine keeps no clock, does no I/O and
imports no socket, thread, time or serial.

Each T.30 action maps to T.31 commands: frames -> ``+FTH=3`` (the DCE adds flags and
FCS) / ``+FRH=3`` (frame + 2 FCS octets, then OK or ERROR); TCF and image data ->
``+FTM=<mod>`` / ``+FRM=<mod>``.  After ``ATD`` the DCE is already receiving HDLC
(``CONNECT`` on the callee's flags); after ``ATA`` it is already transmitting.

Turnarounds (T.30 5.3.2.4: 75 +- 20 ms of silence between the end of one signal and the
next): after *receiving*, the line is already silent when the DCE reports the end (the
frame's OK, or NO CARRIER after data), so the machine only lets the rest of the 75 ms
pass before the next ``+FTH``/``+FTM`` (a pause, as HylaFAX's ``Class1SendMsgDelay``)
and spends no command round trip on it.  After *transmitting*, the DCE may release its
carrier after its OK, so the silence is the modem's: ``+FTS``.  ``speed`` scales those
deliberate pauses for a simulated line running ``speed`` times faster than real time;
deadlines stay at real-time line rates (generous for a simulated line, never short).

The transitions are the table :data:`TRANSITIONS`: (state, input) -> handler; an input
a state has no row for is ignored (stray lines, echoes).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from modem import at
from modem.errors import HDLCError
from modem.hdlc import Frame, parse_frame
from modem.t30 import messages as m
from modem.t30.engine import TURNAROUND_MS

log = logging.getLogger(__name__)

V21_OCTETS_PER_S = 300 / 8
CONNECT_TIMEOUT = 10.0  # +FTH / +FTM until CONNECT
FRAME_IDLE = 5.0  # +FRH: silence inside a frame
FINAL_TIMEOUT = 5.0  # the result after a received block
NEXT_FRAME = 3.0  # +FRH: how long the next frame of a burst may take
TCF_IDLE = 3.0
IMAGE_IDLE = 10.0
# Page data: the whole transfer must be taken by the DCE within its line time plus
# this margin (training, buffers, a loaded host); the result follows within the line
# time of what the DCE and the port still hold plus RESULT_MARGIN.
TRANSFER_MARGIN = 15.0
TRANSFER_SLACK = 0.1  # and 10 % of the line time on top
RESULT_MARGIN = 30.0
FRAME_WRITE = 10.0  # a V.21 frame is a few dozen octets: taken at once


# --- outputs ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    text: str
    after_connect: at.AfterConnect = None


@dataclass(frozen=True, slots=True)
class SendData:
    """Write ``data`` DLE-escaped, then DLE ETX, all taken by ``deadline``."""

    data: bytes
    deadline: float
    flow_control: bool = False  # honour the DCE's XON/XOFF (transmit data mode, +FTM)


@dataclass(frozen=True, slots=True)
class AbortReceive:
    """Send a character to end +FRH/+FRM; the DCE's result is swallowed."""


@dataclass(frozen=True, slots=True)
class CarrierUp:
    """The DCE is transmitting: the preamble/training is on the line, data is buffered."""


@dataclass(frozen=True, slots=True)
class Finished:
    event: m.Event


@dataclass(frozen=True, slots=True)
class Stalled:
    """No result in time: the modem is unresponsive (the owner raises its timeout)."""

    message: str


Output = Command | SendData | AbortReceive | CarrierUp | Finished | Stalled


class State(enum.Enum):
    IDLE = "idle"
    PAUSE_THEN_FTH = "pause_then_fth"
    PAUSE_THEN_FTM = "pause_then_ftm"
    PAUSE_THEN_DONE = "pause_then_done"
    FTH_CONNECT = "fth_connect"
    FRAME_WRITING = "frame_writing"
    FRAME_RESULT = "frame_result"
    FTH_REOPEN = "fth_reopen"
    FTS_RESULT = "fts_result"
    FTM_CONNECT = "ftm_connect"
    FTM_WRITING = "ftm_writing"
    FTM_RESULT = "ftm_result"
    FRH_CONNECT = "frh_connect"
    FRH_DATA = "frh_data"
    FRH_RESULT = "frh_result"
    FRM_CONNECT = "frm_connect"
    FRM_DATA = "frm_data"
    FRM_RESULT = "frm_result"


class Input(enum.Enum):
    FINAL = "final"  # a final result code
    DATA = "data"  # received data
    DATA_END = "data_end"  # DLE ETX
    WRITTEN = "written"  # a SendData block was taken
    STALLED = "stalled"  # a SendData block was not taken by its deadline
    TIMEOUT = "timeout"  # the deadline passed


@dataclass(slots=True)
class T31:
    """The DTE side of one Class 1 call.  See the module doc."""

    name: str = ""  # for log records (the port)
    speed: float = 1.0  # line seconds per wall second
    command_timeout: float = 5.0
    state: State = State.IDLE
    deadline: float | None = None
    connected: at.AfterConnect = None  # a CONNECT already in hand (after ATD/ATA)
    rx_ended: float | None = None  # when the last received signal ended
    _action: m.Action | None = None
    _what: str = ""  # what the current deadline waits for (for Stalled)
    _wait: float = 0.0
    _frames: tuple[bytes, ...] = ()
    _index: int = 0
    _received: list[Frame] = field(default_factory=list)
    _bad: int = 0
    _until: float = 0.0  # +FRH: when listening for frames ends
    _buf: bytearray = field(default_factory=bytearray)
    _idle: float = 0.0
    _first: at.Result | None = None

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError(f"speed must be positive, not {self.speed}")

    # --- call set-up ---------------------------------------------------------------------
    def dialled(self) -> None:
        """ATD said CONNECT: the DCE is receiving HDLC already."""
        self.connected = "rx"

    def answered(self) -> None:
        """ATA said CONNECT: the DCE is transmitting HDLC flags already."""
        self.connected = "tx"

    def hung_up(self) -> None:
        self.connected = None
        self.rx_ended = None
        self.state = State.IDLE
        self.deadline = None

    @property
    def awaiting(self) -> bool:
        """Whether the port is expected to speak before :attr:`deadline` (not a pause)."""
        return self.state not in _PAUSES

    # --- inputs ------------------------------------------------------------------------
    def perform(self, action: m.Action, now: float) -> list[Output]:
        """Start ``action`` (any but Hangup)."""
        self._action = action
        self._received = []
        self._bad = 0
        self._buf.clear()
        if isinstance(action, m.SendFrames):
            self._frames = action.frames
            self._index = 0
            if self.connected == "tx":
                self.connected = None
                return [CarrierUp(), *self._write_frame(now)]
            self.connected = None
            return self._pause(State.PAUSE_THEN_FTH, TURNAROUND_MS, now, T31._fth)
        if isinstance(action, m.ReceiveFrames):
            self._until = now + action.timeout
            if self.connected == "rx":
                self.connected = None
                return self._enter(State.FRH_DATA, now, FRAME_IDLE, "+FRH data")
            return self._frh(now)
        if isinstance(action, m.Silence):
            if self.rx_ended is not None and self.connected is None:
                return self._pause(State.PAUSE_THEN_DONE, action.ms, now, _done)
            self.connected = None
            cmd = f"AT+FTS={max(1, action.ms // 10)}"
            return [*self._enter(State.FTS_RESULT, now, self.command_timeout, cmd),
                    Command(cmd)]
        if isinstance(action, m.SendTCF | m.SendImage):
            self.connected = None
            return self._pause(State.PAUSE_THEN_FTM, TURNAROUND_MS, now, T31._ftm)
        if isinstance(action, m.ReceiveTCF | m.ReceiveImage):
            self.connected = None
            self._idle = TCF_IDLE if isinstance(action, m.ReceiveTCF) else IMAGE_IDLE
            cmd = f"AT+FRM={action.modulation}"
            return [*self._enter(State.FRM_CONNECT, now, action.timeout, cmd),
                    Command(cmd, "rx")]
        raise ValueError(f"T.31 cannot perform {action!r}")

    def receive(self, event: at.Event, now: float) -> list[Output]:
        """An AT event from the port."""
        if isinstance(event, at.Final):
            return self._step(Input.FINAL, event.result, now)
        if isinstance(event, at.Data):
            return self._step(Input.DATA, event.data, now)
        if isinstance(event, at.DataEnd):
            return self._step(Input.DATA_END, None, now)
        if isinstance(event, at.Timeout):
            return self.timeout(now)
        return []  # echo, information text, RING, caller ID: not for the call's steps

    def written(self, now: float) -> list[Output]:
        """The last :class:`SendData` block (and its DLE ETX) was taken."""
        return self._step(Input.WRITTEN, None, now)

    def stalled(self, message: str, now: float) -> list[Output]:
        """The last :class:`SendData` block was not taken by its deadline."""
        return self._step(Input.STALLED, message, now)

    def timeout(self, now: float) -> list[Output]:
        """:attr:`deadline` passed with nothing from the port."""
        return self._step(Input.TIMEOUT, None, now)

    def _step(self, kind: Input, payload: object, now: float) -> list[Output]:
        handler = TRANSITIONS.get((self.state, kind))
        if handler is None:
            return []
        return handler(self, payload, now)

    # --- helpers -----------------------------------------------------------------------
    def _enter(self, state: State, now: float, wait: float, what: str) -> list[Output]:
        self.state = state
        self.deadline = now + wait
        self._wait = wait
        self._what = what
        return []

    def _finish(self, event: m.Event) -> list[Output]:
        self.state = State.IDLE
        self.deadline = None
        return [Finished(event)]

    def _stall(self, _payload: object, _now: float) -> list[Output]:
        self.state = State.IDLE
        self.deadline = None
        return [Stalled(f"no result for {self._what!r} within {self._wait:g}s")]

    def _pause(self, state: State, ms: int, now: float,
               then: Callable[[T31, float], list[Output]]) -> list[Output]:
        """Let ``ms`` of line time pass since the end of the last received signal."""
        if self.rx_ended is None:
            return then(self, now)
        until = self.rx_ended + ms / 1000 / self.speed
        self.rx_ended = None
        if until <= now:
            return then(self, now)
        self.state = state
        self.deadline = until
        return []

    # --- sending frames ----------------------------------------------------------------
    def _fth(self, now: float) -> list[Output]:
        return [*self._enter(State.FTH_CONNECT, now, CONNECT_TIMEOUT, "AT+FTH=3"),
                Command("AT+FTH=3", "tx")]

    def _write_frame(self, now: float) -> list[Output]:
        frame = self._frames[self._index]
        log.info("class1 tx frame", extra={"port": self.name, "frame": _name(frame),
                                           "octets": len(frame)})
        self._enter(State.FRAME_WRITING, now, FRAME_WRITE, "HDLC frame")
        return [SendData(frame, now + FRAME_WRITE + len(frame) / V21_OCTETS_PER_S)]

    def _fth_connect(self, r: at.Result, now: float) -> list[Output]:
        if r is not at.Result.CONNECT:
            return self._finish(m.LineLost(f"+FTH=3: {r}"))
        return [CarrierUp(), *self._write_frame(now)]

    def _frame_written(self, _payload: object, now: float) -> list[Output]:
        frame = self._frames[self._index]
        return self._enter(State.FRAME_RESULT, now,
                           5.0 + (len(frame) + 40) / V21_OCTETS_PER_S, "HDLC frame")

    def _frame_result(self, r: at.Result, now: float) -> list[Output]:
        last = self._index == len(self._frames) - 1
        if r is at.Result.CONNECT and not last:
            self._index += 1
            return self._write_frame(now)
        if r is at.Result.OK and last:
            return self._finish(m.Done())
        if r is at.Result.OK:  # the DCE ended the carrier early: reopen for the rest
            self._first = r
            return [*self._enter(State.FTH_REOPEN, now, CONNECT_TIMEOUT, "AT+FTH=3"),
                    Command("AT+FTH=3", "tx")]
        return self._finish(m.LineLost(f"sending HDLC: {r}"))

    def _fth_reopen(self, r: at.Result, now: float) -> list[Output]:
        if r is at.Result.CONNECT:
            self._index += 1
            return self._write_frame(now)
        return self._finish(m.LineLost(f"sending HDLC: {self._first}"))

    # --- silence -----------------------------------------------------------------------
    def _fts_result(self, r: at.Result, _now: float) -> list[Output]:
        return self._finish(m.Done() if r is at.Result.OK else m.LineLost(f"+FTS: {r}"))

    def _paused(self, _payload: object, now: float) -> list[Output]:
        then = _AFTER_PAUSE[self.state]
        return then(self, now)

    # --- sending high-speed data -------------------------------------------------------
    def _ftm(self, now: float) -> list[Output]:
        action = self._action
        assert isinstance(action, m.SendTCF | m.SendImage)
        cmd = f"AT+FTM={action.modulation}"
        return [*self._enter(State.FTM_CONNECT, now, CONNECT_TIMEOUT, cmd), Command(cmd, "tx")]

    def _data(self) -> tuple[int, int, bytes]:
        action = self._action
        assert isinstance(action, m.SendTCF | m.SendImage)
        data = bytes(action.octets) if isinstance(action, m.SendTCF) else action.data
        return action.modulation, action.bit_rate, data

    @staticmethod
    def line_time(octets: int, bit_rate: int) -> float:
        """Seconds ``octets`` take on the line at ``bit_rate``."""
        return octets * 8 / bit_rate

    def _ftm_connect(self, r: at.Result, now: float) -> list[Output]:
        modulation, bit_rate, data = self._data()
        if r is not at.Result.CONNECT:
            return self._finish(m.LineLost(f"+FTM={modulation}: {r}"))
        log.info("class1 tx data", extra={"port": self.name, "modulation": modulation,
                                          "octets": len(data)})
        duration = self.line_time(len(data), bit_rate)
        wait = duration * (1 + TRANSFER_SLACK) + TRANSFER_MARGIN
        self._enter(State.FTM_WRITING, now, wait, f"+FTM={modulation} data")
        return [CarrierUp(), SendData(data, now + wait, flow_control=True)]

    def _ftm_written(self, _payload: object, now: float) -> list[Output]:
        modulation, bit_rate, data = self._data()
        wait = RESULT_MARGIN + self.line_time(len(data), bit_rate)
        return self._enter(State.FTM_RESULT, now, wait, f"+FTM={modulation} data")

    def _ftm_stalled(self, message: object, _now: float) -> list[Output]:
        return self._finish(m.LineLost(f"modem stopped taking data: {message}"))

    def _ftm_result(self, r: at.Result, _now: float) -> list[Output]:
        return self._finish(m.Done() if r is at.Result.OK
                            else m.LineLost(f"after image data: {r}"))

    def _frame_stalled(self, message: object, _now: float) -> list[Output]:
        self.state = State.IDLE
        self.deadline = None
        return [Stalled(str(message))]

    # --- receiving frames --------------------------------------------------------------
    def _frh(self, now: float) -> list[Output]:
        left = self._until - now
        if left <= 0:
            return self._frames_end()
        return [*self._enter(State.FRH_CONNECT, now, left, "AT+FRH=3"), Command("AT+FRH=3", "rx")]

    def _frames_end(self) -> list[Output]:
        if self._received:
            return self._finish(m.FramesReceived(tuple(self._received), self._bad))
        return self._finish(m.FrameError() if self._bad else m.TimedOut())

    def _frh_connect(self, r: at.Result, now: float) -> list[Output]:
        if r is at.Result.CONNECT:
            self._buf.clear()
            return self._enter(State.FRH_DATA, now, FRAME_IDLE, "+FRH data")
        if r is at.Result.NO_CARRIER:
            self.rx_ended = now
            if not self._received:
                return self._frh(now)  # carrier came and went: keep listening
            return self._frames_end()
        if r in (at.Result.FCERROR, at.Result.ERROR):
            return self._frh(now)  # another carrier, or the DCE gave up: listen again
        return self._frames_end()

    def _frh_silent(self, _payload: object, _now: float) -> list[Output]:
        return [AbortReceive(), *self._frames_end()]

    def _rx_data(self, data: object, now: float) -> list[Output]:
        assert isinstance(data, bytes)
        self._buf += data
        self.deadline = now + self._wait
        return []

    def _frh_data_end(self, _payload: object, now: float) -> list[Output]:
        return self._enter(State.FRH_RESULT, now, FINAL_TIMEOUT, "+FRH")

    def _frh_broken(self, _payload: object, _now: float) -> list[Output]:
        """The frame's data stopped without DLE ETX: abort."""
        self._bad += 1
        return [AbortReceive(), *self._frames_end()]

    def _frh_no_result(self, _payload: object, _now: float) -> list[Output]:
        self._bad += 1
        return self._frames_end()

    def _frh_result(self, r: at.Result, now: float) -> list[Output]:
        data = bytes(self._buf)
        if r is not at.Result.OK or len(data) < 5:
            self._bad += 1
            log.info("class1 rx bad frame", extra={"port": self.name, "result": str(r),
                                                   "octets": len(data)})
            if self._received:
                self._until = max(self._until, now + NEXT_FRAME)
            return self._frh(now)
        try:
            frame = parse_frame(data[:-2])
        except HDLCError:
            self._bad += 1
            return self._frh(now)
        log.info("class1 rx frame", extra={"port": self.name, "frame": frame.name,
                                           "octets": len(data) - 2})
        self._received.append(frame)
        if frame.final:
            self.rx_ended = now
            return self._frames_end()
        self._until = now + NEXT_FRAME
        return self._frh(now)

    # --- receiving high-speed data -----------------------------------------------------
    def _frm_connect(self, r: at.Result, now: float) -> list[Output]:
        if r is at.Result.FCERROR:
            return self._finish(m.WrongCarrier())
        if r is not at.Result.CONNECT:
            return self._finish(m.TimedOut() if r is at.Result.NO_CARRIER
                                else m.LineLost(f"+FRM: {r}"))
        self._buf.clear()
        return self._enter(State.FRM_DATA, now, self._idle, "+FRM data")

    def _frm_silent(self, _payload: object, _now: float) -> list[Output]:
        return [AbortReceive(), *self._finish(m.TimedOut())]

    def _frm_data_end(self, _payload: object, now: float) -> list[Output]:
        return self._enter(State.FRM_RESULT, now, FINAL_TIMEOUT, "+FRM end")

    def _frm_broken(self, _payload: object, _now: float) -> list[Output]:
        self._log_rx_data(complete=False)
        return [AbortReceive(), *self._finish(m.DataReceived(bytes(self._buf)))]

    def _frm_result(self, _payload: object, now: float) -> list[Output]:
        """The carrier's end was reported (or its result never came): received."""
        self.rx_ended = now
        self._log_rx_data(complete=True)
        return self._finish(m.DataReceived(bytes(self._buf)))

    def _log_rx_data(self, *, complete: bool) -> None:
        action = self._action
        modulation = action.modulation if isinstance(action, m.ReceiveTCF | m.ReceiveImage) else 0
        log.info("class1 rx data", extra={"port": self.name, "modulation": modulation,
                                          "octets": len(self._buf), "complete": complete})


def _done(_machine: T31, _now: float) -> list[Output]:
    _machine.state = State.IDLE
    _machine.deadline = None
    return [Finished(m.Done())]


def _name(frame: bytes) -> str:
    try:
        return parse_frame(frame).name
    except HDLCError:
        return "?"


_PAUSES = frozenset({State.PAUSE_THEN_FTH, State.PAUSE_THEN_FTM, State.PAUSE_THEN_DONE})
_AFTER_PAUSE: dict[State, Callable[[T31, float], list[Output]]] = {
    State.PAUSE_THEN_FTH: T31._fth,
    State.PAUSE_THEN_FTM: T31._ftm,
    State.PAUSE_THEN_DONE: _done,
}

St, In = State, Input
#: (state, input) -> handler(machine, payload, now).  Inputs without a row are ignored.
TRANSITIONS: dict[tuple[State, Input], Callable[..., list[Output]]] = {
    (St.PAUSE_THEN_FTH, In.TIMEOUT): T31._paused,
    (St.PAUSE_THEN_FTM, In.TIMEOUT): T31._paused,
    (St.PAUSE_THEN_DONE, In.TIMEOUT): T31._paused,
    # +FTH=3 and the frames
    (St.FTH_CONNECT, In.FINAL): T31._fth_connect,
    (St.FTH_CONNECT, In.TIMEOUT): T31._stall,
    (St.FRAME_WRITING, In.WRITTEN): T31._frame_written,
    (St.FRAME_WRITING, In.STALLED): T31._frame_stalled,
    (St.FRAME_RESULT, In.FINAL): T31._frame_result,
    (St.FRAME_RESULT, In.TIMEOUT): T31._stall,
    (St.FTH_REOPEN, In.FINAL): T31._fth_reopen,
    (St.FTH_REOPEN, In.TIMEOUT): T31._stall,
    # +FTS
    (St.FTS_RESULT, In.FINAL): T31._fts_result,
    (St.FTS_RESULT, In.TIMEOUT): T31._stall,
    # +FTM and the data
    (St.FTM_CONNECT, In.FINAL): T31._ftm_connect,
    (St.FTM_CONNECT, In.TIMEOUT): T31._stall,
    (St.FTM_WRITING, In.WRITTEN): T31._ftm_written,
    (St.FTM_WRITING, In.STALLED): T31._ftm_stalled,
    (St.FTM_RESULT, In.FINAL): T31._ftm_result,
    (St.FTM_RESULT, In.TIMEOUT): T31._stall,
    # +FRH=3 and the frames
    (St.FRH_CONNECT, In.FINAL): T31._frh_connect,
    (St.FRH_CONNECT, In.TIMEOUT): T31._frh_silent,
    (St.FRH_DATA, In.DATA): T31._rx_data,
    (St.FRH_DATA, In.DATA_END): T31._frh_data_end,
    (St.FRH_DATA, In.TIMEOUT): T31._frh_broken,
    (St.FRH_RESULT, In.FINAL): T31._frh_result,
    (St.FRH_RESULT, In.TIMEOUT): T31._frh_no_result,
    # +FRM and the data
    (St.FRM_CONNECT, In.FINAL): T31._frm_connect,
    (St.FRM_CONNECT, In.TIMEOUT): T31._frm_silent,
    (St.FRM_DATA, In.DATA): T31._rx_data,
    (St.FRM_DATA, In.DATA_END): T31._frm_data_end,
    (St.FRM_DATA, In.TIMEOUT): T31._frm_broken,
    (St.FRM_RESULT, In.FINAL): T31._frm_result,
    (St.FRM_RESULT, In.TIMEOUT): T31._frm_result,
}
del St, In
