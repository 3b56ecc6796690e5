"""Sans-IO AT command layer (model: h11).

:class:`ATMachine` is fed the bytes the modem sent (:meth:`ATMachine.receive_data`) and
returns events; it is told what the DTE sends (:meth:`ATMachine.send_command`) and when
a deadline passed (:meth:`ATMachine.timeout`).  It never reads a clock and never does
I/O: :mod:`modem.pump` does that.

Modes:

* ``IDLE`` - no command outstanding; lines are unsolicited (RING, caller ID) or stray.
* ``COMMAND`` - a command was sent, waiting for its final result code.
* ``DATA_RX`` - after CONNECT to a receiving command (+FRH, +FRM, ATD in Class 1):
  bytes are DLE-escaped data up to DLE ETX, then a final result follows.
* ``DATA_TX`` - after CONNECT to a transmitting command (+FTH, +FTM, ATA in Class 1):
  the DTE sends DLE-escaped data; the modem answers CONNECT (next HDLC frame), OK or
  an error.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Literal

from modem.errors import ModemProtocolError

DLE = 0x10
ETX = 0x03
SUB = 0x1A
XON = 0x11
XOFF = 0x13


class Mode(enum.Enum):
    IDLE = "idle"
    COMMAND = "command"
    DATA_RX = "data_rx"
    DATA_TX = "data_tx"


class Result(enum.StrEnum):
    OK = "OK"
    CONNECT = "CONNECT"
    RING = "RING"
    NO_CARRIER = "NO CARRIER"
    ERROR = "ERROR"
    NO_DIALTONE = "NO DIALTONE"
    BUSY = "BUSY"
    NO_ANSWER = "NO ANSWER"
    FCERROR = "+FCERROR"


_VERBOSE: dict[str, Result] = {
    "OK": Result.OK,
    "CONNECT": Result.CONNECT,
    "NO CARRIER": Result.NO_CARRIER,
    "ERROR": Result.ERROR,
    "NO DIALTONE": Result.NO_DIALTONE,
    "NO DIAL TONE": Result.NO_DIALTONE,
    "BUSY": Result.BUSY,
    "NO ANSWER": Result.NO_ANSWER,
    "+FCERROR": Result.FCERROR,
    "+F4": Result.FCERROR,  # numeric form of +FCERROR (T.31)
}
_NUMERIC: dict[str, Result] = {
    "0": Result.OK,
    "1": Result.CONNECT,
    "3": Result.NO_CARRIER,
    "4": Result.ERROR,
    "6": Result.NO_DIALTONE,
    "7": Result.BUSY,
    "8": Result.NO_ANSWER,
    "+F4": Result.FCERROR,
}
_CALLER_ID = re.compile(r"^(NMBR|NAME|NDID|DATE|TIME|DDI|MESG)\s*=\s*(.*)$")


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Echo:
    text: str


@dataclass(frozen=True, slots=True)
class Info:
    """An information or intermediate line, e.g. ``0,1,1.0`` or ``+FCLASS: 1``."""

    text: str


@dataclass(frozen=True, slots=True)
class Final:
    result: Result
    text: str  # the line as received, e.g. "CONNECT 9600"


@dataclass(frozen=True, slots=True)
class Ring:
    pass


@dataclass(frozen=True, slots=True)
class CallerId:
    key: str  # NMBR, NAME, NDID, DATE, TIME, ...
    value: str


@dataclass(frozen=True, slots=True)
class Data:
    data: bytes  # unescaped


@dataclass(frozen=True, slots=True)
class DataEnd:
    """DLE ETX: end of a received data block."""


@dataclass(frozen=True, slots=True)
class Timeout:
    mode: Mode
    command: str | None


Event = Echo | Info | Final | Ring | CallerId | Data | DataEnd | Timeout
AfterConnect = Literal["rx", "tx"] | None


def escape(data: bytes, *, use_sub: bool = False) -> bytes:
    """DLE-escape data for the DCE (DLE -> DLE DLE; with ``use_sub`` DLE DLE -> DLE SUB)."""
    if use_sub:
        out = bytearray()
        i = 0
        n = len(data)
        while i < n:
            b = data[i]
            if b == DLE:
                if i + 1 < n and data[i + 1] == DLE:
                    out += bytes((DLE, SUB))
                    i += 2
                    continue
                out += bytes((DLE, DLE))
            else:
                out.append(b)
            i += 1
        return bytes(out)
    return data.replace(b"\x10", b"\x10\x10")


END_OF_DATA = bytes((DLE, ETX))


def unescape(data: bytes) -> bytes:
    """Inverse of :func:`escape` for a complete buffer without DLE ETX (helper for tests)."""
    m = ATMachine()
    m.expect_data()
    out = bytearray()
    for ev in m.receive_data(data):
        if isinstance(ev, Data):
            out += ev.data
    return bytes(out)


@dataclass(slots=True)
class ATMachine:
    """The state machine.  See the module doc."""

    verbose: bool = True
    mode: Mode = Mode.IDLE
    command: str | None = None
    after_connect: AfterConnect = None
    _line: bytearray = field(default_factory=bytearray)
    _dle: bool = False
    _echo_pending: bool = False
    _skip_lf: bool = False  # the LF of "CONNECT\r\n" when data follows the CR

    # --- inputs from the DTE side -------------------------------------------------------

    def send_command(self, command: str, after_connect: AfterConnect = None) -> bytes:
        """Register a command the DTE is about to send; returns the bytes to write.

        ``after_connect`` says what CONNECT means for this command: "rx" (data from the
        DCE follows, e.g. +FRH/+FRM/ATD in Class 1) or "tx" (the DTE sends data, e.g.
        +FTH/+FTM/ATA in Class 1).
        """
        if self.mode in (Mode.COMMAND, Mode.DATA_RX):
            raise ModemProtocolError(f"command {command!r} while {self.mode.value} ({self.command!r})")
        cmd = command if command.upper().startswith("AT") else "AT" + command
        up = cmd.upper()
        if "V0" in up:
            self.verbose = False
        elif "V1" in up or up in ("ATZ", "AT&F"):
            self.verbose = True
        self.command = cmd
        self.after_connect = after_connect
        self.mode = Mode.COMMAND
        self._echo_pending = True
        self._line.clear()
        return cmd.encode("ascii") + b"\r"

    def expect_data(self) -> None:
        """Enter DATA_RX directly (e.g. to resume after a CONNECT already consumed)."""
        self.mode = Mode.DATA_RX
        self._dle = False
        self._skip_lf = False

    def data_sent(self) -> None:
        """The DTE finished a data block (sent DLE ETX); the DCE's final result follows."""
        if self.mode is not Mode.DATA_TX:
            raise ModemProtocolError(f"data_sent in mode {self.mode.value}")
        self.mode = Mode.COMMAND
        self._line.clear()

    def abort_rx(self) -> None:
        """The DTE sent a character to abort +FRH/+FRM; a final result (OK) is expected."""
        if self.mode is Mode.DATA_RX:
            self.mode = Mode.COMMAND
            self._dle = False
        self._line.clear()

    def timeout(self) -> list[Event]:
        """The pump's deadline passed.  The machine stays in its mode; the pump decides."""
        return [Timeout(self.mode, self.command)]

    def reset(self) -> None:
        self.mode = Mode.IDLE
        self.command = None
        self.after_connect = None
        self._line.clear()
        self._dle = False

    # --- input from the DCE -------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        i = 0
        n = len(data)
        while i < n:
            if self.mode is Mode.DATA_RX:
                i = self._rx_data(data, i, events)
                continue
            b = data[i]
            i += 1
            if b in (0x0D, 0x0A):
                if self._line:
                    text = self._line.decode("ascii", "replace").strip()
                    self._line.clear()
                    if text:
                        self._on_line(text, events)
                continue
            if b in (XON, XOFF, 0x00) or (b == DLE and self.mode is Mode.DATA_TX):
                continue
            self._line.append(b)
            if len(self._line) > 4096:  # no line is this long: junk
                self._line.clear()
        return events

    def _rx_data(self, data: bytes, i: int, events: list[Event]) -> int:
        out = bytearray()
        n = len(data)
        if self._skip_lf and i < n:
            self._skip_lf = False
            if data[i] == 0x0A:
                i += 1
        while i < n:
            b = data[i]
            i += 1
            if self._dle:
                self._dle = False
                if b == DLE:
                    out.append(DLE)
                elif b == SUB:
                    out += bytes((DLE, DLE))
                elif b == ETX:
                    if out:
                        self._append_data(events, bytes(out))
                    events.append(DataEnd())
                    self.mode = Mode.COMMAND
                    self._line.clear()
                    return i
                # any other DLE <x> is a shielded code we do not use: drop it
            elif b == DLE:
                self._dle = True
            else:
                out.append(b)
        if out:
            self._append_data(events, bytes(out))
        return i

    @staticmethod
    def _append_data(events: list[Event], chunk: bytes) -> None:
        if events and isinstance(events[-1], Data):
            events[-1] = Data(events[-1].data + chunk)
        else:
            events.append(Data(chunk))

    def _on_line(self, text: str, events: list[Event]) -> None:
        if self._echo_pending and self.command is not None and text.upper() == self.command.upper():
            self._echo_pending = False
            events.append(Echo(text))
            return
        result = self._result(text)
        if result is Result.RING:
            events.append(Ring())
            return
        m = _CALLER_ID.match(text)
        if m:
            events.append(CallerId(m.group(1), m.group(2).strip()))
            return
        if result is None or self.mode is Mode.IDLE:
            events.append(Info(text))
            return
        self._echo_pending = False
        events.append(Final(result, text))
        if result is Result.CONNECT:
            if self.after_connect == "rx":
                self.mode = Mode.DATA_RX
                self._dle = False
                self._skip_lf = True
            elif self.after_connect == "tx":
                self.mode = Mode.DATA_TX
            # else: stays COMMAND (a data call would go on-line; not used for fax)
            return
        if self.mode is Mode.DATA_TX and result is Result.OK:
            self.mode = Mode.IDLE
            return
        self.mode = Mode.IDLE

    def _result(self, text: str) -> Result | None:
        up = text.upper()
        if up == "RING" or (not self.verbose and up == "2"):
            return Result.RING
        if up.startswith("CONNECT"):
            return Result.CONNECT
        if up in _VERBOSE:
            return _VERBOSE[up]
        if not self.verbose and up in _NUMERIC:
            return _NUMERIC[up]
        return None
