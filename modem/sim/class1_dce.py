"""A Class 1 fax modem (ITU-T T.31 / EIA-578 DCE) as a sans-IO state machine.

:class:`Class1DCE` takes bytes from the DTE (``from_dte``), events from the
phone line (``from_line``) and the passing of simulated time (``tick``); it
produces :data:`Action` objects (``take_actions``): bytes for the DTE, line
events for the far end, and call-control requests (dial, answer, hang up) for
whoever connects it to an exchange.  It never blocks and never reads a clock:
every input carries ``now`` in simulated seconds.  ``next_deadline`` says when
it next wants a ``tick``; ``input_room`` is its flow control (how many DTE
octets it accepts now: a transmitting modem consumes data at the line rate).

What it implements:

* command mode: ``AT`` prefix, echo (``E``), verbose/numeric results (``V``),
  quiet (``Q``), ``Z``, ``&F``, ``H``, ``A``, ``D``, ``I0``..``I9``, S registers
  (``S0`` auto-answer rings, ``S7`` wait for carrier), ``+FCLASS`` (0, 1, 1.0),
  ``+FMI?``/``+FMM?``/``+FMR?`` (and ``+GMI``...), a few accepted no-ops.
* T.31 class 1: ``+FTH=3``/``+FRH=3`` (V.21 HDLC; the DCE adds and checks the
  FCS), ``+FTM=n``/``+FRM=n`` (high-speed data, DLE-transparent, bits LSB
  first), ``+FTS=n``/``+FRS=n`` (silence), ``=?`` queries, ``+FCERROR`` when the
  received carrier is not the one asked for.  ``ATD`` in class 1 sends CNG and
  returns ``CONNECT`` when the far end's V.21 flags arrive (as after
  ``+FRH=3``); ``ATA`` sends CED, then V.21 flags and returns ``CONNECT`` (as
  after ``+FTH=3``).  Any character from the DTE while receiving aborts with
  ``OK`` (XON/XOFF excepted).
* RING with caller ID lines (``NMBR = ``, ``NAME = ``, ``NDID = ``) after the
  first ring; ``BUSY``, ``NO ANSWER``, ``NO DIALTONE``, ``NO CARRIER``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from modem.hdlc import fcs_bytes
from modem.sim.errors import SimError
from modem.sim.line import (
    HIGH_SPEED_CODES,
    MODULATIONS,
    V21_PREAMBLE_S,
    CallAnswered,
    CallCleared,
    CallOffered,
    CarrierOff,
    CarrierOn,
    Data,
    HdlcFrame,
    LineEvent,
    SignalEvent,
    Tone,
    bit_rate,
    compatible,
    training_time,
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
_NOOP_BASIC = set("BLMNPTXWY") | {"&C", "&D", "&K", "&S", "&W", "&Q", "&R", "&H", "&I", "&G"}
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


class Class1DCE:
    """One simulated Class 1 modem's brain.  Not thread-safe: one pump thread drives it."""

    _rx_cur: int | None

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

    # --- public API -----------------------------------------------------------------------

    def take_actions(self) -> list[Action]:
        out, self._actions = self._actions, []
        return out

    def next_deadline(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def input_room(self, now: float) -> int:
        """How many DTE octets the DCE accepts now (flow control)."""
        if self.state in (State.TX_DATA, State.TX_HDLC) and self._tx_mod:
            backlog = max(0.0, self._tx_free - now) * bit_rate(self._tx_mod) / 8
            return max(0, int(self.buffer_octets - backlog))
        return 4096

    def tick(self, now: float) -> None:
        self._now = now
        while self._timers and self._timers[0][0] <= now + 1e-9:
            _, _, fn = heapq.heappop(self._timers)
            fn()
        self._service_rx()

    def from_dte(self, data: bytes, now: float) -> None:
        self.tick(now)
        i = 0
        n = len(data)
        while i < n:
            if self.state in (State.TX_HDLC, State.TX_DATA):
                i = self._tx_bytes(data, i)
                continue
            b = data[i]
            i += 1
            if self.state == State.TX_WAIT:
                self._held.extend(data[i - 1 :])
                break
            elif self.state in (
                State.RX_WAIT_HDLC, State.RX_HDLC, State.RX_WAIT_DATA, State.RX_DATA,
                State.RX_SILENCE, State.DIALING, State.ANSWERING,
            ):
                if b in (XON, XOFF):
                    continue
                self._abort_rx()
                # the aborting character is consumed (T.31 8.3.4)
            else:
                self._cmd_byte(b)
        self._service_rx()

    def from_line(self, ev: LineEvent, now: float) -> None:
        self.tick(now)
        if isinstance(ev, CallOffered):
            self._incoming(ev)
        elif isinstance(ev, CallAnswered):
            self._answered()
        elif isinstance(ev, CallCleared):
            self._cleared(ev)
        elif self.in_call:
            if isinstance(ev, CarrierOn):
                self._line_carrier = True
                self._rx_discard = False
            elif isinstance(ev, CarrierOff):
                self._line_carrier = False
                if self._rx_discard:
                    self._rx_discard = False
                    self._rx_cur = None
                    return
            if self._rx_discard:
                return
            self._rxq.append(ev)
        self._service_rx()

    def dial_failed(self, result: str, now: float) -> None:
        """The exchange refused the call: ``BUSY``, ``NO CARRIER``..."""
        self.tick(now)
        if self.state == State.DIALING:
            self._clear_timers()
            self.in_call = False
            self._at(now + (2.0 if result == "BUSY" else 0.5), lambda: self._final(result))

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

    # --- command mode ---------------------------------------------------------------------

    def _cmd_byte(self, b: int) -> None:
        if self.echo:
            self._send(bytes((b,)))
        if b == self.s[3]:
            line = bytes(self._cmdbuf)
            self._cmdbuf.clear()
            self._command_line(line)
            return
        if b in (self.s[4], 0):
            return
        if b == self.s[5]:
            if self._cmdbuf:
                self._cmdbuf.pop()
            return
        if len(self._cmdbuf) < 2:
            expect = b"AT"[len(self._cmdbuf)]
            if b & 0xDF == expect:
                self._cmdbuf.append(b)
            elif b & 0xDF == ord("A"):
                self._cmdbuf[:] = b"A"
            else:
                self._cmdbuf.clear()
            return
        if len(self._cmdbuf) < 256:
            self._cmdbuf.append(b)

    def _command_line(self, line: bytes) -> None:
        if len(line) < 2:
            return
        text = line[2:].decode("latin-1")
        log.debug("AT command", extra={"command": "AT" + text})
        if not text.strip():
            self._result("OK")
            return
        try:
            outcome = self._run_commands(text)
        except _CmdError:
            self._result("ERROR")
            return
        if outcome == "ok":
            self._result("OK")

    def _run_commands(self, text: str) -> str:
        i = 0
        n = len(text)
        up = text.upper()
        while i < n:
            c = up[i]
            if c == " ":
                i += 1
                continue
            if c == "D":
                self._cmd_dial(text[i + 1 :])
                return "deferred"
            if c in "+#":
                j = text.find(";", i)
                end = n if j < 0 else j
                r = self._cmd_ext(up[i:end].strip(), text[i:end].strip())
                if r == "deferred":
                    return r
                i = end + 1
                continue
            if c == "S":
                j = i + 1
                while j < n and up[j].isdigit():
                    j += 1
                if j == i + 1:
                    raise _CmdError
                reg = int(up[i + 1 : j])
                if j < n and up[j] == "?":
                    self._info(f"{self.s.get(reg, 0):03d}")
                    i = j + 1
                elif j < n and up[j] == "=":
                    k = j + 1
                    while k < n and up[k].isdigit():
                        k += 1
                    self.s[reg] = int(up[j + 1 : k] or "0")
                    i = k
                else:
                    i = j  # "ATS7" selects a register; accept
                continue
            name = c
            i += 1
            if c == "&" and i < n:
                name += up[i]
                i += 1
            j = i
            while j < n and up[j].isdigit():
                j += 1
            arg = int(up[i:j]) if j > i else 0
            i = j
            r = self._cmd_basic(name, arg)
            if r == "deferred":
                return r
        return "ok"

    def _cmd_basic(self, name: str, arg: int) -> str:
        if name == "E":
            self.echo = bool(arg)
        elif name == "V":
            self.verbose = bool(arg)
        elif name == "Q":
            self.quiet = bool(arg)
        elif name in ("Z", "&F"):
            self._hangup()
            self._factory()
        elif name == "H":
            self._hangup()
        elif name == "A":
            self._cmd_answer()
            return "deferred"
        elif name == "I":
            self._info(
                {0: "56000", 3: f"{self.manufacturer} {self.model}", 4: self.revision}.get(
                    arg, self.model
                )
            )
        elif name == "O" or name not in _NOOP_BASIC:
            raise _CmdError
        return "ok"

    def _cmd_ext(self, cmd: str, raw: str) -> str:
        name, op, arg = cmd, "", ""
        for k, ch in enumerate(cmd):
            if ch in "=?":
                name = cmd[:k]
                rest = cmd[k:]
                if rest.startswith("=?"):
                    op = "=?"
                elif rest.startswith("="):
                    op, arg = "=", rest[1:]
                else:
                    op = "?"
                break
        if name in ("+FMI", "+GMI"):
            self._info(self.manufacturer)
        elif name in ("+FMM", "+GMM"):
            self._info(self.model)
        elif name in ("+FMR", "+GMR"):
            self._info(self.revision)
        elif name == "+FAE":  # T.31 adaptive answer: tell fax callers from data callers
            if op == "=?":
                self._info("0,1")
            elif op == "?":
                self._info("1" if self.adaptive else "0")
            elif op == "=" and arg in ("0", "1"):
                self.adaptive = arg == "1"
            else:
                raise _CmdError
        elif name == "+FCLASS":
            if op == "=?":
                self._info("0,1,1.0")
            elif op == "?":
                self._info(self.fclass)
            elif op == "=" and arg in ("0", "1", "1.0"):
                self.fclass = arg
            else:
                raise _CmdError
        elif name in ("+FTM", "+FRM", "+FTH", "+FRH"):
            if self.fclass == "0":
                raise _CmdError
            hdlc = name in ("+FTH", "+FRH")
            codes = (3,) if hdlc else HIGH_SPEED_CODES
            if op == "=?":
                self._info(",".join(str(c) for c in codes))
                return "ok"
            if op != "=" or not arg.isdigit() or int(arg) not in codes:
                raise _CmdError
            {
                "+FTM": self._cmd_ftm,
                "+FRM": self._cmd_frm,
                "+FTH": self._cmd_fth,
                "+FRH": self._cmd_frh,
            }[name](int(arg))
            return "deferred"
        elif name in ("+FTS", "+FRS"):
            if op == "=?":
                self._info("0-255")
                return "ok"
            if op != "=" or not arg.isdigit():
                raise _CmdError
            (self._cmd_fts if name == "+FTS" else self._cmd_frs)(int(arg))
            return "deferred"
        elif name in self.ext:
            if op == "?":
                self._info(self.ext[name])
            elif op == "=?":
                self._info("(0,1)")
            elif op == "=":
                self.ext[name] = arg
        else:
            raise _CmdError
        return "ok"

    # --- call control -----------------------------------------------------------------------

    def _cmd_dial(self, dial: str) -> None:
        number = "".join(ch for ch in dial if ch.isdigit() or ch in "+*#")
        if self.in_call:
            self._result("ERROR")
            return
        self.state = State.DIALING
        self._rxq.clear()
        if self.no_dialtone:
            self._at(self._now + self.s[6] + 1.0, lambda: self._final("NO DIALTONE"))
            return
        self.in_call = True
        dial_time = 0.5 + 0.1 * len(number)
        self._at(self._now + dial_time, lambda: self._dial_now(number))
        self._at(self._now + self.s[7], self._no_answer)

    def _dial_now(self, number: str) -> None:
        if self.state != State.DIALING:
            return
        self._actions.append(DialRequest(number, data=self.fclass == "0"))
        if self.fclass != "0":
            self._line(Tone("cng"))

    def _no_answer(self) -> None:
        if self.state != State.DIALING:
            return
        answered = self._answered_flag
        self._hangup()
        self._final("NO CARRIER" if answered else "NO ANSWER")

    _answered_flag = False

    def _answered(self) -> None:
        if self.state != State.DIALING:
            return
        self._answered_flag = True
        if self.fclass == "0":
            self._hangup()
            self._at(self._now + 2.0, lambda: self._final("NO CARRIER"))

    def _incoming(self, ev: CallOffered) -> None:
        if self.in_call:
            return
        self.ringing = ev
        self._rings = 0
        self._ring()

    def _ring(self) -> None:
        if self.ringing is None or self.in_call:
            return
        self._rings += 1
        self.s[1] = self._rings
        if self.state == State.CMD:
            self._result("RING")
            if self._rings == 1 and not self.quiet:
                ev = self.ringing
                self._info(f"NMBR = {ev.caller or 'P'}")
                if ev.caller_name:
                    self._info(f"NAME = {ev.caller_name}")
                self._info(f"NDID = {ev.called}")
            if self.s[0] and self._rings >= self.s[0]:
                self._cmd_answer()
                return
        self._at(self._now + RING_PERIOD_S, self._ring)

    def _cmd_answer(self) -> None:
        if self.ringing is None or self.in_call:
            self.state = State.ANSWERING
            self._at(self._now + 2.0, lambda: self._final("NO CARRIER"))
            return
        offered = self.ringing
        self.ringing = None
        self._clear_timers()
        self.in_call = True
        self._rxq.clear()
        self._actions.append(AnswerRequest())
        if self.adaptive and self.fclass != "0":
            # T.31 +FAE=1: say what called; a data call connects as data (+FCLASS=0)
            if offered.data:
                self._info("DATA")
                self.fclass = "0"
                self.state = State.OFFLINE
                self._result("CONNECT")
                self._at(self._now + 5.0, self._drop_data_call)
                return
            self._info("FAX")
        if self.fclass == "0":
            self.state = State.OFFLINE
            self._at(self._now + 5.0, self._drop_data_call)
            return
        self.state = State.ANSWERING
        self._line(Tone("ced"))
        t = self._now + CED_S
        self._at(t, lambda: self._line(CarrierOff()))
        self._at(t + SILENCE_S, self._answer_flags)

    def _drop_data_call(self) -> None:
        self._hangup()
        self._final("NO CARRIER")

    def _answer_flags(self) -> None:
        if self.state != State.ANSWERING:
            return
        self._start_tx(3)
        self.state = State.TX_HDLC
        self._result("CONNECT")

    def _hangup(self) -> None:
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

    def _cleared(self, ev: CallCleared) -> None:
        if self.ringing is not None and not self.in_call:
            self.ringing = None
            self._clear_timers()
            return
        if not self.in_call:
            return
        st = self.state
        self._clear_timers()
        self.in_call = False
        self._answered_flag = False
        self._rxq.clear()
        self._rx_cur = None
        self._rx_discard = False
        self._tx_mod = 0
        self._held.clear()
        if st == State.RX_DATA:
            self._send(bytes((DLE, ETX)))
        if st != State.CMD:
            self._final("NO CARRIER")

    # --- transmit ---------------------------------------------------------------------------

    def _start_tx(self, mod: int) -> None:
        self._rxq.clear()
        self._rx_cur = None
        start = max(self._now, self._tx_free)
        if self._tx_mod != mod:
            if self._tx_mod:
                self._line(CarrierOff())
            self._line(CarrierOn(mod))
            self._tx_free = start + (V21_PREAMBLE_S if mod == 3 else training_time(mod))
        self._tx_mod = mod
        self._tx_frame.clear()
        self._dle = False

    def _cmd_fth(self, mod: int) -> None:
        if not self.in_call:
            self._final("ERROR")
            return
        self._start_tx(mod)
        self.state = State.TX_HDLC
        self._result("CONNECT")

    def _cmd_ftm(self, mod: int) -> None:
        if not self.in_call:
            self._final("ERROR")
            return
        self._start_tx(mod)
        self.state = State.TX_DATA
        self._result("CONNECT")

    def _tx_bytes(self, data: bytes, i: int) -> int:
        """Consume DTE data from ``data[i:]`` while transmitting; returns the next index."""
        n = len(data)
        while i < n and self.state in (State.TX_HDLC, State.TX_DATA):
            if self._dle:
                self._dle = False
                b = data[i]
                i += 1
                if b == ETX:
                    self._tx_end()
                elif b == DLE:
                    self._tx_octets(b"\x10")
                elif b == SUB:
                    self._tx_octets(b"\x10\x10")
                continue  # other DLE pairs are discarded
            j = data.find(b"\x10", i)
            if j < 0:
                self._tx_octets(data[i:])
                return n
            if j > i:
                self._tx_octets(data[i:j])
            self._dle = True
            i = j + 1
        return i

    def _tx_octets(self, data: bytes) -> None:
        if self.state == State.TX_HDLC:
            if len(self._tx_frame) < 512:
                self._tx_frame.extend(data[: 512 - len(self._tx_frame)])
            return
        # High-speed data: queued on the line clock in ~50 ms chunks.
        self._tx_frame.extend(data)
        if len(self._tx_frame) >= self._chunk():
            self._flush_data(whole_chunks=True)

    def _chunk(self) -> int:
        return max(16, int(bit_rate(self._tx_mod) * CHUNK_S / 8))

    def _flush_data(self, whole_chunks: bool = False) -> None:
        size = self._chunk()
        rate = bit_rate(self._tx_mod)
        while len(self._tx_frame) >= (size if whole_chunks else 1):
            data = bytes(self._tx_frame[:size])
            del self._tx_frame[:size]
            start = max(self._now, self._tx_free)
            self._tx_free = start + len(data) * 8 / rate
            self._at(self._tx_free, self._emitter(Data(data)))

    def _emitter(self, ev: LineEvent) -> Callable[[], None]:
        return lambda: self._line(ev)

    def _tx_end(self) -> None:
        if self.state == State.TX_HDLC:
            frame = bytes(self._tx_frame)
            self._tx_frame.clear()
            if not frame:
                self._finish_tx("OK")
                return
            start = max(self._now, self._tx_free)
            self._tx_free = start + (len(frame) + 3) * 8 / 300
            self._at(self._tx_free, lambda: self._line(HdlcFrame(frame)))
            if len(frame) >= 2 and frame[1] & 0x10:
                self._finish_tx("OK")
            else:
                self._result("CONNECT")
            return
        self._flush_data()
        self._finish_tx("OK")

    def _finish_tx(self, code: str) -> None:
        self.state = State.TX_WAIT
        end = max(self._now, self._tx_free)

        def done() -> None:
            if self.state != State.TX_WAIT:
                return
            if self._tx_mod:
                self._line(CarrierOff())
            self._tx_mod = 0
            self._final(code)

        self._at(end, done)

    def _cmd_fts(self, n: int) -> None:
        self.state = State.TX_WAIT
        end = max(self._now, self._tx_free)
        mod_off = bool(self._tx_mod)

        def done() -> None:
            if self.state == State.TX_WAIT:
                self._final("OK")

        if mod_off:
            self._at(end, self._carrier_off_now)
        self._at(end + n * 0.01, done)

    def _carrier_off_now(self) -> None:
        if self._tx_mod:
            self._line(CarrierOff())
            self._tx_mod = 0

    # --- receive ----------------------------------------------------------------------------

    def _cmd_frh(self, mod: int) -> None:
        if not self.in_call:
            self._final("ERROR")
            return
        self._carrier_off_now()
        self._rx_mod = mod
        self.state = State.RX_WAIT_HDLC
        self._rx_deadline()

    def _cmd_frm(self, mod: int) -> None:
        if not self.in_call:
            self._final("ERROR")
            return
        self._carrier_off_now()
        self._rx_mod = mod
        self.state = State.RX_WAIT_DATA
        self._rx_deadline()

    def _rx_deadline(self) -> None:
        st = self.state
        token = object()
        self._rx_token = token

        def expire() -> None:
            if self.state == st and self._rx_token is token:
                self._final("NO CARRIER")

        self._at(self._now + RX_WAIT_S, expire)

    _rx_token: object = None

    def _cmd_frs(self, n: int) -> None:
        self.state = State.RX_SILENCE
        self._carrier_off_now()

        def done() -> None:
            if self.state == State.RX_SILENCE:
                if self._line_carrier:
                    self._at(self._now + n * 0.01, done)
                else:
                    self._final("OK")

        self._at(self._now + n * 0.01, done)

    def _abort_rx(self) -> None:
        st = self.state
        if st == State.DIALING:
            self._hangup()
            self._final("NO CARRIER")
            return
        if st == State.ANSWERING:
            self._hangup()
            self._final("NO CARRIER")
            return
        if st == State.RX_DATA:
            self._send(bytes((DLE, ETX)))
        self._rx_token = None
        self._final("OK")

    def _service_rx(self) -> None:
        q = self._rxq
        while q:
            st = self.state
            ev = q[0]
            if st in (State.CMD, State.TX_HDLC, State.TX_DATA, State.TX_WAIT, State.OFFLINE):
                return
            if isinstance(ev, Tone):
                q.popleft()
                continue
            if st == State.RX_SILENCE:
                return
            if st in (State.DIALING, State.RX_WAIT_HDLC):
                if st == State.DIALING and not self._answered_flag:
                    q.popleft()
                    continue
                if isinstance(ev, CarrierOn):
                    q.popleft()
                    self._rx_cur = ev.mod
                    if ev.mod == 3:
                        if st == State.DIALING:
                            self._clear_timers()
                        self.state = State.RX_HDLC
                        self._rx_mod = 3
                        self._result("CONNECT")
                    continue
                if isinstance(ev, HdlcFrame) and self._rx_cur == 3:
                    if st == State.DIALING:
                        self._clear_timers()
                    self.state = State.RX_HDLC
                    self._rx_mod = 3
                    self._result("CONNECT")
                    continue
                q.popleft()  # CarrierOff, or data of a carrier we cannot hear
                if isinstance(ev, CarrierOff):
                    self._rx_cur = None
                continue
            if st == State.RX_HDLC:
                q.popleft()
                if isinstance(ev, HdlcFrame):
                    self._deliver_frame(ev)
                elif isinstance(ev, CarrierOff):
                    self._rx_cur = None
                    self._final("NO CARRIER")
                elif isinstance(ev, CarrierOn):
                    self._rx_cur = ev.mod
                continue
            if st == State.RX_WAIT_DATA:
                if isinstance(ev, CarrierOn):
                    if ev.mod == 3:
                        self._final("+FCERROR")
                        return
                    q.popleft()
                    self._rx_cur = ev.mod
                    if compatible(ev.mod, self._rx_mod):
                        self.state = State.RX_DATA
                        self._result("CONNECT")
                    else:
                        self._discard_carrier()
                        self._final("+FCERROR")
                    continue
                if isinstance(ev, HdlcFrame):
                    self._final("+FCERROR")
                    return
                if isinstance(ev, Data) and self._rx_cur and compatible(self._rx_cur, self._rx_mod):
                    self.state = State.RX_DATA
                    self._result("CONNECT")
                    continue
                q.popleft()
                if isinstance(ev, CarrierOff):
                    self._rx_cur = None
                continue
            if st == State.RX_DATA:
                q.popleft()
                if isinstance(ev, Data):
                    self._send(ev.data.replace(b"\x10", b"\x10\x10"))
                elif isinstance(ev, CarrierOff):
                    self._rx_cur = None
                    self._send(bytes((DLE, ETX)))
                    self._final("NO CARRIER")
                continue
            return

    def _discard_carrier(self) -> None:
        """Drop the rest of the current incoming carrier (queued or still to come)."""
        q = self._rxq
        while q:
            ev = q.popleft()
            if isinstance(ev, CarrierOff):
                self._rx_cur = None
                return
        self._rx_discard = True

    def _deliver_frame(self, ev: HdlcFrame) -> None:
        body = ev.data + fcs_bytes(ev.data)
        if not ev.fcs_ok:
            body = ev.data + bytes(b ^ 0xFF for b in fcs_bytes(ev.data))
        self._send(body.replace(b"\x10", b"\x10\x10") + bytes((DLE, ETX)))
        self._rx_token = None
        self._final("OK" if ev.fcs_ok else "ERROR")


class _CmdError(SimError):
    """A command line the modem answers with ERROR (caught in the command loop)."""


__all__ = [
    "MODULATIONS",
    "Action",
    "AnswerRequest",
    "Class1DCE",
    "DialRequest",
    "HangupRequest",
    "State",
    "ToDTE",
    "ToLine",
]
