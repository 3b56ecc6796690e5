"""Thin I/O pump: moves bytes between a pyserial port and :class:`modem.at.ATMachine`.

All protocol decisions live in the machine (and above it in the driver); the pump only
reads, writes and keeps time (monotonic deadlines, passed to the machine as timeouts).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import serial

from modem import at
from modem.errors import ModemTimeout, PortError

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(slots=True)
class Response:
    final: at.Final
    lines: list[str] = field(default_factory=list)

    @property
    def result(self) -> at.Result:
        return self.final.result


class ATPort:
    """An AT-speaking serial port."""

    def __init__(self, port: Any, *, clock: Clock = time.monotonic, name: str = "") -> None:
        self.port = port
        self.at = at.ATMachine()
        self.clock = clock
        self.name = name or str(getattr(port, "port", "") or "")
        self.unsolicited: deque[at.Event] = deque()  # RING / caller ID, for the driver
        self._pending: deque[at.Event] = deque()

    @classmethod
    def open(cls, url: str, *, baudrate: int = 115200, rtscts: bool = False) -> ATPort:
        """Open ``url`` (a device path such as ``/dev/ttyS0`` or a pty, or any pyserial URL).

        ``rtscts`` turns on hardware flow control (real modems); ptys such as iaxmodem's
        and the simulator's flow-control by blocking writes.  XON/XOFF is never enabled:
        it would eat 0x11/0x13 octets out of received image data.
        """
        try:
            port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05, write_timeout=10,
                                         rtscts=rtscts)
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"cannot open {url}: {exc}") from exc
        return cls(port, name=url)

    def close(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            self.port.close()

    # --- low level ------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
            self.port.flush()
        except serial.SerialTimeoutException as exc:
            raise ModemTimeout(f"{self.name} stopped taking data: {exc}") from exc
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"write to {self.name} failed: {exc}") from exc

    def _read(self) -> bytes:
        try:
            waiting = self.port.in_waiting
            data: bytes = self.port.read(waiting or 1)
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"read from {self.name} failed: {exc}") from exc
        return data

    def next_event(self, deadline: float) -> at.Event:
        """The next event from the machine; a Timeout event when ``deadline`` passes.

        RING and caller ID go to :attr:`unsolicited` and are also returned.
        """
        while not self._pending:
            if self.clock() >= deadline:
                self._pending.extend(self.at.timeout())
                break
            data = self._read()
            if data:
                log.debug("modem rx", extra={"port": self.name, "bytes": data[:64].hex(),
                                              "len": len(data)})
                self._pending.extend(self.at.receive_data(data))
        ev = self._pending.popleft()
        if isinstance(ev, at.Ring | at.CallerId):
            self.unsolicited.append(ev)
        return ev

    def drain(self) -> None:
        """Drop anything buffered (stray data from a previous call)."""
        self._pending.clear()
        with contextlib.suppress(serial.SerialException, OSError):
            self.port.reset_input_buffer()

    # --- commands --------------------------------------------------------------------------
    def command(self, cmd: str, timeout: float = 5.0,
                after_connect: at.AfterConnect = None) -> Response:
        """Send a command and wait for its final result code.

        Raises :class:`ModemTimeout` if none arrives in time (the machine is reset).
        """
        if self.at.mode is at.Mode.DATA_TX:
            self.at.reset()
        log.debug("modem command", extra={"port": self.name, "command": cmd})
        self.write(self.at.send_command(cmd, after_connect))
        return self.wait_final(timeout, what=cmd)

    def wait_final(self, timeout: float, what: str = "") -> Response:
        deadline = self.clock() + timeout
        lines: list[str] = []
        while True:
            ev = self.next_event(deadline)
            if isinstance(ev, at.Final):
                log.debug("modem result", extra={"port": self.name, "command": what,
                                                 "result": ev.text})
                return Response(ev, lines)
            if isinstance(ev, at.Info):
                lines.append(ev.text)
            elif isinstance(ev, at.Timeout):
                self.at.reset()
                raise ModemTimeout(f"no result for {what!r} within {timeout:g}s")
            elif isinstance(ev, at.Data):  # pragma: no cover - not in data mode here
                continue

    # --- data ------------------------------------------------------------------------------
    def send_data(self, data: bytes, *, timeout: float | None = None, chunk: int = 1024) -> None:
        """Write DLE-escaped data then DLE ETX (the DCE must have said CONNECT).

        The DCE paces us (flow control); ``timeout`` bounds the whole transfer and
        :class:`ModemTimeout` is raised when it runs out (a DCE that stopped draining).
        """
        esc = at.escape(data)
        deadline = None if timeout is None else self.clock() + timeout
        for i in range(0, len(esc), chunk):
            if deadline is not None and self.clock() > deadline:
                raise ModemTimeout(f"{self.name}: data not taken within {timeout:g}s")
            self.write(esc[i:i + chunk])
        self.write(at.END_OF_DATA)
        self.at.data_sent()

    def receive_data(self, idle_timeout: float, max_time: float | None = None
                     ) -> tuple[bytes, bool]:
        """Collect data up to DLE ETX.  Returns (data, complete).

        ``complete`` is False when nothing arrived for ``idle_timeout`` seconds or
        ``max_time`` passed; the receive is then aborted (a character is sent).
        """
        buf = bytearray()
        end = None if max_time is None else self.clock() + max_time
        while True:
            deadline = self.clock() + idle_timeout
            if end is not None:
                deadline = min(deadline, end)
            ev = self.next_event(deadline)
            if isinstance(ev, at.Data):
                buf += ev.data
            elif isinstance(ev, at.DataEnd):
                return bytes(buf), True
            elif isinstance(ev, at.Timeout):
                self.abort_receive()
                return bytes(buf), False

    def abort_receive(self) -> None:
        """Abort +FRH/+FRM (or a dial) by sending a character; swallow the result."""
        self.write(b"\x18")
        self.at.abort_rx()
        if self.at.mode is at.Mode.IDLE:
            self.at.mode = at.Mode.COMMAND
        with contextlib.suppress(ModemTimeout):
            self.wait_final(2.0, what="<abort>")
