"""A simulated Class 1 modem on a real pty: one local line of the simulated exchange.

A thread pumps bytes between the pty and the sans-IO
:class:`~modem.sim.class1_dce.Class1DCE`, and line events between it and the exchange.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import queue
import select
import threading
import tty

from modem.sim.class1_dce import (
    AnswerRequest,
    Class1DCE,
    DialRequest,
    HangupRequest,
    ToDTE,
    ToLine,
)
from modem.sim.endpoint import Call, Endpoint, Switchboard
from modem.sim.line import CallCleared, CallOffered, LineEvent, Participant, SimClock

log = logging.getLogger(__name__)

_GARBAGE = object()
_STOP = object()


class SimModem(Endpoint):
    """A simulated Class 1 modem on a real pty.

    ``device`` is the pty's slave path: open it with pyserial
    (``serial.serial_for_url(modem.device)``), efax (``-d``) or HylaFAX like a
    serial port.  A thread pumps bytes between the pty and the sans-IO
    :class:`~modem.sim.class1_dce.Class1DCE`, and line events between it and
    the exchange.
    """

    kind = "line"

    def __init__(self, exchange: Switchboard, number: str, name: str) -> None:
        super().__init__(exchange, number, name)
        self.dce = Class1DCE()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.device = os.ttyname(self._slave)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._inbox: queue.SimpleQueue[tuple[object, object]] = queue.SimpleQueue()
        self._offered: Call | None = None
        self._active: Call | None = None
        self._out = bytearray()
        self._closed = False
        self.dte_log = bytearray()  # what the DTE sent (last 64 KiB), for debugging
        self.dce_log = bytearray()  # what the modem sent the DTE (last 64 KiB)
        self._thread = threading.Thread(target=self._run, name=f"simmodem-{name}", daemon=True)
        self._thread.start()
        log.info("sim: line ready", extra={"line": name, "number": number, "device": self.device})

    def deliver(self, call: Call, ev: LineEvent) -> None:
        self._inbox.put((call, ev))
        self._wake()

    def inject_garbage(self, data: bytes) -> None:
        """Write ``data`` to the DTE at once, as line noise on the serial cable would."""
        self._inbox.put((_GARBAGE, data))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._inbox.put((_STOP, None))
        self._wake()
        self._thread.join(timeout=5)
        call = self.call
        if call is not None:
            self.exchange.hangup(call, self)
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # --- pump -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            log.exception("sim: modem pump crashed", extra={"line": self.name})

    def _loop(self) -> None:
        clock = self.clock
        dce = self.dce
        part = clock.participant(self.name)
        try:
            self._pump(clock, dce, part)
        finally:
            clock.release(part)

    def _pump(self, clock: SimClock, dce: Class1DCE, part: Participant) -> None:
        while True:
            call = self._active
            active = call is not None and call.state == "connected"
            now = clock.beat(part, active=active)
            dl = dce.next_deadline()
            timeout = 0.25 if dl is None else min(0.25, clock.wall(dl - now))
            if active:
                timeout = clock.poll_interval(timeout)
            room = dce.input_room(now)
            rl = [self._wake_r]
            if room > 0:
                rl.append(self._master)
            wl = [self._master] if self._out else []
            r, _w, _ = select.select(rl, wl, [], timeout)
            clock.beat(part)
            if self._wake_r in r:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            dce.no_dialtone = self.faults.no_dialtone
            while True:
                try:
                    tag, item = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if tag is _STOP:
                    return
                if tag is _GARBAGE:
                    assert isinstance(item, bytes)
                    self._out.extend(item)
                    continue
                assert isinstance(tag, Call)
                self._line_event(tag, item)  # type: ignore[arg-type]
            if self._master in r:
                try:
                    data = os.read(self._master, max(1, min(room, 4096)))
                except BlockingIOError:
                    data = b""
                except OSError as e:
                    if e.errno != errno.EIO:
                        raise
                    data = b""
                if data:
                    self.dte_log.extend(data)
                    del self.dte_log[:-65536]
                    if not self.faults.unresponsive:
                        dce.from_dte(data, clock.now())
            dce.tick(clock.now())
            self._actions()
            if self._out:
                try:
                    n = os.write(self._master, self._out)
                    del self._out[:n]
                except BlockingIOError:
                    pass
                if len(self._out) > 1 << 20:
                    log.warning("sim: DTE not reading, output dropped", extra={"line": self.name})
                    self._out.clear()

    def _line_event(self, call: Call, ev: LineEvent) -> None:
        now = self.clock.now()
        if isinstance(ev, CallOffered):
            self._offered = call
        elif isinstance(ev, CallCleared):
            if call is self._offered:
                self._offered = None
            elif call is self._active:
                self._active = None
            else:
                return
        elif call is not self._active:
            return
        self.dce.from_line(ev, now)
        self._actions()

    def _actions(self) -> None:
        dce = self.dce
        while True:
            acts = dce.take_actions()
            if not acts:
                return
            for a in acts:
                if isinstance(a, ToDTE):
                    if not self.faults.unresponsive:
                        self._out.extend(a.data)
                        self.dce_log.extend(a.data)
                        del self.dce_log[:-65536]
                elif isinstance(a, ToLine):
                    call = self._active
                    if call is not None and call.state == "connected":
                        self.exchange.relay(call, self, a.event)
                elif isinstance(a, DialRequest):
                    res = self.exchange.place_call(self, a.number, data=a.data)
                    if isinstance(res, str):
                        dce.dial_failed(res, self.clock.now())
                    else:
                        self._active = res
                elif isinstance(a, AnswerRequest):
                    call = self._offered
                    self._offered = None
                    if call is None or not self.exchange.answer(call, self):
                        dce.from_line(CallCleared("cancelled"), self.clock.now())
                    else:
                        self._active = call
                elif isinstance(a, HangupRequest):
                    call = self._active or self._offered
                    self._active = self._offered = None
                    if call is not None:
                        self.exchange.hangup(call, self)



__all__ = ["SimModem"]
