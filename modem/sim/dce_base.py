"""The state and the building blocks of the simulated Class 1 modem (see
:mod:`modem.sim.class1_dce`): its constants, the actions it emits, its states, timers and
result codes, and dropping a call.

The modem is one class built in layers, one responsibility each:
:class:`DCEBase` (here) -> :class:`~modem.sim.dce_t31.T31DataDCE` (T.31 transmit and
receive) -> :class:`~modem.sim.dce_calls.CallControlDCE` (dial, ring, answer, clear) ->
:class:`~modem.sim.class1_dce.Class1DCE` (the public API and the AT command interpreter).
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from modem.sim.errors import SimError
from modem.sim.line import (
    CallOffered,
    LineEvent,
    SignalEvent,
)

log = logging.getLogger(__name__)

DLE = 0x10
ETX = 0x03
SUB = 0x1A
XON = 0x11
XOFF = 0x13
CR = 0x0D

# --- actions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToDTE:
    data: bytes


@dataclass(frozen=True, slots=True)
class ToLine:
    event: LineEvent


@dataclass(frozen=True, slots=True)
class DialRequest:
    number: str
    data: bool = False  # dialled in +FCLASS=0: a data call


@dataclass(frozen=True, slots=True)
class AnswerRequest:
    pass


@dataclass(frozen=True, slots=True)
class HangupRequest:
    pass


Action = ToDTE | ToLine | DialRequest | AnswerRequest | HangupRequest

NUMERIC = {
    "OK": "0",
    "CONNECT": "1",
    "RING": "2",
    "NO CARRIER": "3",
    "ERROR": "4",
    "NO DIALTONE": "6",
    "BUSY": "7",
    "NO ANSWER": "8",
    "+FCERROR": "+F4",
}

DEFAULT_S = {0: 0, 1: 0, 2: 43, 3: 13, 4: 10, 5: 8, 6: 2, 7: 60, 8: 2, 10: 14}

#: Basic commands accepted and ignored (speaker, dial options, DTR/DCD handling...).
NOOP_BASIC = set("BLMNPTXWY") | {"&C", "&D", "&K", "&S", "&W", "&Q", "&R", "&H", "&I", "&G"}
#: Extended commands accepted as set/query of a stored value.
_STORED_EXT = {
    "+FAR": "0",
    "+FCL": "0",
    "+FIT": "0,0",
    "+FPR": "8",
    "+FLO": "1",
    "+FDD": "0",
    "+VCID": "1",
    "+IFC": "2,2",
    "+IPR": "0",
    "#CID": "1",
    "+FAA": "0",
    "+FMS": "0",
}

RING_PERIOD_S = 6.0
CED_S = 3.0
SILENCE_S = 0.075
RX_WAIT_S = 60.0
CHUNK_S = 0.05


class State:
    CMD = "cmd"
    DIALING = "dialing"
    ANSWERING = "answering"
    TX_HDLC = "tx_hdlc"
    TX_DATA = "tx_data"
    TX_WAIT = "tx_wait"  # draining / +FTS: DTE input is held until the final result
    RX_WAIT_HDLC = "rx_wait_hdlc"
    RX_HDLC = "rx_hdlc"
    RX_WAIT_DATA = "rx_wait_data"
    RX_DATA = "rx_data"
    RX_SILENCE = "rx_silence"
    OFFLINE = "offline"  # answered/off-hook in class 0 (data modem emulation is not provided)


class CommandError(SimError):
    """A command line the modem answers with ERROR (caught by the command interpreter)."""


class DCEBase:
    """State, timers, output and result codes of one simulated Class 1 modem."""

    _rx_cur: int | None
    _answered_flag = False  # the dialled number answered (set by CallControlDCE)

    def __init__(
        self,
        manufacturer: str = "umfax",
        model: str = "SimModem Class 1",
        revision: str = "0.1",
        buffer_octets: int = 2048,
    ) -> None:
        self.manufacturer = manufacturer
        self.model = model
        self.revision = revision
        self.buffer_octets = buffer_octets
        self.no_dialtone = False  # fault: set by the owner
        self._actions: list[Action] = []
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._rxq: deque[SignalEvent] = deque()
        self._cmdbuf = bytearray()
        self._held = bytearray()  # DTE input held while the DCE finishes a transmission
        self._factory()
        self.state = State.CMD
        self.in_call = False
        self.ringing: CallOffered | None = None
        self._rings = 0
        self._now = 0.0

    # --- helpers --------------------------------------------------------------------------

    def _factory(self) -> None:
        self.echo = True
        self.verbose = True
        self.quiet = False
        self.fclass = "0"
        self.adaptive = False  # +FAE
        self.s = dict(DEFAULT_S)
        self.ext = dict(_STORED_EXT)
        self._tx_mod = 0
        self._tx_free = 0.0
        self._tx_frame = bytearray()
        self._dle = False
        self._rx_mod = 0  # modulation the DTE is receiving (+FRM/+FRH), 0 none
        self._rx_cur = None  # carrier whose start was consumed and end not yet
        self._line_carrier = False  # a carrier is arriving from the line right now
        self._rx_discard = False  # dropping the rest of an incoming carrier

    def _at(self, when: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (when, next(self._seq), fn))

    def _clear_timers(self) -> None:
        self._timers.clear()

    def _send(self, data: bytes) -> None:
        if data:
            self._actions.append(ToDTE(data))

    def _line(self, ev: LineEvent) -> None:
        self._actions.append(ToLine(ev))

    def _info(self, text: str) -> None:
        if self.quiet:
            return
        self._send((f"\r\n{text}\r\n" if self.verbose else f"{text}\r\n").encode())

    def _result(self, code: str) -> None:
        if self.quiet:
            return
        if self.verbose:
            self._send(f"\r\n{code}\r\n".encode())
        else:
            self._send(f"{NUMERIC.get(code, code)}\r".encode())

    def _final(self, code: str) -> None:
        """A final result: back to command state, then release held DTE input."""
        self.state = State.CMD
        self._rx_mod = 0
        self._result(code)
        if self._held:
            held, self._held = bytes(self._held), bytearray()
            for b in held:
                self._cmd_byte(b)

    def _hangup(self) -> None:
        """Drop the call (if any) and forget every call and carrier state."""
        was = self.in_call
        self._clear_timers()
        self.in_call = False
        self.ringing = None
        self._answered_flag = False
        self._rxq.clear()
        self._rx_cur = None
        self._rx_discard = False
        self._tx_mod = 0
        if was:
            self._actions.append(HangupRequest())

    def _cmd_byte(self, b: int) -> None:  # pragma: no cover - the interpreter's (Class1DCE)
        raise NotImplementedError
