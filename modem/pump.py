"""Thin I/O pump: moves bytes between a pyserial port and :class:`modem.at.ATMachine`.

All protocol decisions live in the machines (:mod:`modem.at`, :mod:`modem.t31`); the pump only
reads, writes and keeps time (monotonic deadlines, passed to the machine as timeouts).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
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
WRITE_POLL = 0.05  # while the port is full, look at what the DCE says this often
FLOW_CHUNK = 256  # octets written between two looks for XOFF


@dataclass(slots=True)
class Response:
    final: at.Final
    lines: list[str] = field(default_factory=list)

    @property
    def result(self) -> at.Result:
        return self.final.result


class ATPort:
    """An AT-speaking serial port."""

    def __init__(self, port: Any, *, clock: Clock = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, name: str = "") -> None:
        self.port = port
        self.at = at.ATMachine()
        self.clock = clock
        self.sleep = sleep
        self._xoff = False  # the DCE said XOFF during the current transmit data block
        self.xoff_count = 0  # XOFFs honoured so far (for logs and tests)
        self.name = name or str(getattr(port, "port", "") or "")
        self.unsolicited: deque[at.Event] = deque()  # RING / caller ID, for the driver
        self._pending: deque[at.Event] = deque()

    @classmethod
    def open(cls, url: str, *, baudrate: int = 115200, rtscts: bool = False) -> ATPort:
        """Open ``url`` (a device path such as ``/dev/ttyS0`` or a pty, or any pyserial URL).

        ``rtscts`` turns on hardware flow control (real modems); ptys such as iaxmodem's
        and the simulator's flow-control by blocking writes.  pyserial's XON/XOFF is
        never enabled: it would eat 0x11/0x13 octets out of received image data; the
        DCE's XON/XOFF is honoured by :meth:`send_data` while transmitting instead.
        ``write_timeout`` bounds each command write; page data has its own deadline.
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
    def write(self, data: bytes, *, flush: bool = True) -> None:
        try:
            self.port.write(data)
            if flush:
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
        self.send_command(cmd, after_connect)
        return self.wait_final(timeout, what=cmd)

    def send_command(self, cmd: str, after_connect: at.AfterConnect = None) -> None:
        """Send a command; its result comes from :meth:`next_event` or :meth:`wait_final`."""
        if self.at.mode is at.Mode.DATA_TX:
            self.at.reset()
        log.debug("modem command", extra={"port": self.name, "command": cmd})
        self.write(self.at.send_command(cmd, after_connect))

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
    def send_data(self, data: bytes, *, deadline: float | None = None,
                  timeout: float | None = None, chunk: int = 1024,
                  flow_control: bool = False) -> None:
        """Write DLE-escaped data then DLE ETX (the DCE must have said CONNECT).

        ``deadline`` (a time on :attr:`clock`; or ``timeout`` seconds from now) bounds the
        whole transfer, however the DCE paces it: :class:`ModemTimeout` is raised when
        it passes before everything was taken (a DCE that stopped draining).  With
        ``flow_control`` (transmit data mode, +FTM) the DCE's XOFF (0x13) pauses the
        writing until its XON (0x11): T.31 makes that flow control mandatory from the
        DCE while it transmits.  Only the bytes the DCE sends *while we transmit* are
        looked at, so 0x11/0x13 in received data are never touched.
        """
        out = at.escape(data) + at.END_OF_DATA
        if flow_control:  # a DCE says XOFF with about 1 kB of room left: stay well inside it
            chunk = min(chunk, FLOW_CHUNK)
        if deadline is None and timeout is not None:
            deadline = self.clock() + timeout
        self._xoff = False
        pos = 0
        while pos < len(out):
            now = self.clock()
            if deadline is not None and now > deadline:
                raise ModemTimeout(f"{self.name}: data not taken by its deadline "
                                   f"({pos} of {len(out)} octets written)")
            if flow_control:
                self._watch_flow(block=False)
                if self.at.mode is not at.Mode.DATA_TX:
                    log.info("modem ended transmit data mode early", extra={
                        "port": self.name, "written": pos, "octets": len(out)})
                    return  # its result (ERROR, NO CARRIER) is pending for the owner
                if self._xoff or self._queued() > chunk:
                    self._watch_flow(block=True)  # waits up to the read timeout
                    continue
            pos += self._write_some(out[pos:pos + chunk], deadline)
        self.at.data_sent()

    def _write_some(self, data: bytes, deadline: float | None) -> int:
        """Write what the port takes now (waiting a moment for room); octets written.

        A port with a file descriptor is written without blocking, so the whole
        transfer has one deadline rather than pyserial's per-write ``write_timeout``.
        """
        try:
            fd = self.port.fileno()
        except (AttributeError, OSError, ValueError, serial.SerialException):
            fd = None
        if not isinstance(fd, int):
            self.write(data, flush=False)
            return len(data)
        wait = WRITE_POLL if deadline is None else max(0.0, min(WRITE_POLL, deadline - self.clock()))
        try:
            _, ready, _ = select.select([], [fd], [], wait)
            if not ready:
                return 0
            return os.write(fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise PortError(f"write to {self.name} failed: {exc}") from exc

    def _queued(self) -> int:
        """Octets the port's driver still holds for the DCE (0 where it cannot say)."""
        try:
            return int(getattr(self.port, "out_waiting", 0) or 0)
        except (serial.SerialException, OSError, ValueError, TypeError):
            return 0

    def _watch_flow(self, *, block: bool) -> None:
        """Read what the DCE sent while we transmit: XOFF/XON set :attr:`_xoff`; result
        codes (an early ERROR, say) go to the machine as usual."""
        try:
            if not block and not self.port.in_waiting:
                return
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"read from {self.name} failed: {exc}") from exc
        data = self._read()
        if not data:
            return
        on, off = data.rfind(bytes((at.XON,))), data.rfind(bytes((at.XOFF,)))
        if on != off:
            self._xoff = off > on
            self.xoff_count += self._xoff
            log.debug("modem flow", extra={"port": self.name, "xoff": self._xoff})
        self._pending.extend(self.at.receive_data(data))

    def pause_until(self, deadline: float) -> None:
        """Let time pass until ``deadline`` (a turnaround: nothing is expected meanwhile)."""
        left = deadline - self.clock()
        if left > 0:
            self.sleep(left)

    def expire(self) -> None:
        """A deadline passed while a final result was awaited: forget the command, as
        :meth:`wait_final` does (data being received is aborted by the owner instead)."""
        if self.at.mode is not at.Mode.DATA_RX:
            self.at.reset()

    def end_data_now(self) -> None:
        """End a transmit data block at once (hang-up): drop what the port still holds
        for the DCE, then DLE ETX, so a DCE that stopped taking data cannot block us."""
        with contextlib.suppress(serial.SerialException, OSError, AttributeError):
            self.port.reset_output_buffer()
        self._xoff = False
        if self._write_some(at.END_OF_DATA, self.clock() + 1.0) < len(at.END_OF_DATA):
            raise ModemTimeout(f"{self.name}: DLE ETX not taken")

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
