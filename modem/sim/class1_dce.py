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
import logging

from modem.sim.dce_base import (
    NOOP_BASIC,
    XOFF,
    XON,
    Action,
    AnswerRequest,
    CommandError,
    DialRequest,
    HangupRequest,
    State,
    ToDTE,
    ToLine,
)
from modem.sim.dce_calls import (
    CallControlDCE,
)
from modem.sim.line import (
    HIGH_SPEED_CODES,
    MODULATIONS,
    CallAnswered,
    CallCleared,
    CallOffered,
    CarrierOff,
    CarrierOn,
    LineEvent,
    bit_rate,
)

log = logging.getLogger(__name__)


class Class1DCE(CallControlDCE):
    """One simulated Class 1 modem's brain.  Not thread-safe: one pump thread drives it."""

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
        except CommandError:
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
                    raise CommandError
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
        elif name == "O" or name not in NOOP_BASIC:
            raise CommandError
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
                raise CommandError
        elif name == "+FCLASS":
            if op == "=?":
                self._info("0,1,1.0")
            elif op == "?":
                self._info(self.fclass)
            elif op == "=" and arg in ("0", "1", "1.0"):
                self.fclass = arg
            else:
                raise CommandError
        elif name in ("+FTM", "+FRM", "+FTH", "+FRH"):
            if self.fclass == "0":
                raise CommandError
            hdlc = name in ("+FTH", "+FRH")
            codes = (3,) if hdlc else HIGH_SPEED_CODES
            if op == "=?":
                self._info(",".join(str(c) for c in codes))
                return "ok"
            if op != "=" or not arg.isdigit() or int(arg) not in codes:
                raise CommandError
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
                raise CommandError
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
            raise CommandError
        return "ok"


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
