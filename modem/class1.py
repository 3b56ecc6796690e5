"""Class 1 / 1.0 (ITU-T T.31) line driver: runs the T.30 engine over an AT port.

Usage::

    driver = Class1Driver("/dev/ttyS0")            # or a pty path, or any pyserial URL
    status = driver.probe()                         # LineStatus(ok, detail, classes)
    result = driver.send("5551234", pages, SendOptions(local_id="+1 555 0100"), progress)
    call = driver.wait_for_call(timeout=60)         # IncomingCall (caller ID) or None
    result = driver.receive(call, ReceiveOptions(), on_page, progress)

The T.31 logic (which command for which T.30 action, retries after ``+FCERROR``,
``ERROR`` or ``NO CARRIER``, turnaround pauses, deadlines) is the sans-IO machine
:class:`modem.t31.T31`; this driver is the loop around it that does the port I/O
(:class:`modem.pump.ATPort`) and tells it the time.  ``speed`` scales the machine's
deliberate pauses (turnarounds) for a simulated line running ``speed`` times faster
than real time.

Hardware flow control: pass ``port_factory=lambda u: ATPort.open(u, rtscts=True)``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from modem import at, t31
from modem.api import (
    AbortCall,
    CallResult,
    FaxLineDriver,
    HangupCause,
    IncomingCall,
    LineStatus,
    PageImage,
    PageSink,
    Progress,
    ProgressCallback,
    ProgressKind,
    ReceiveOptions,
    SendOptions,
)
from modem.callwatch import CallWatch, Watch
from modem.errors import ModemError, ModemTimeout, PortError
from modem.hdlc import FCF, build_frame
from modem.pump import ATPort
from modem.t30 import Engine, T30Receiver, T30Sender
from modem.t30 import messages as m
from modem.t30.engine import fill_result

log = logging.getLogger(__name__)


_DIAL_CAUSES = {
    at.Result.BUSY: (HangupCause.BUSY, "line busy"),
    at.Result.NO_ANSWER: (HangupCause.NO_ANSWER, "no answer"),
    at.Result.NO_DIALTONE: (HangupCause.NO_DIALTONE, "no dial tone"),
    at.Result.NO_CARRIER: (HangupCause.NO_CARRIER, "no fax tones (NO CARRIER)"),
    at.Result.ERROR: (HangupCause.MODEM_ERROR, "modem said ERROR to the dial command"),
    at.Result.OK: (HangupCause.NO_CARRIER, "dial ended with OK, no fax carrier"),
}


def _now() -> datetime:
    return datetime.now(UTC)


class _Cancelled(Exception):  # internal control flow
    pass


class Class1Driver:
    """:class:`modem.api.FaxLineDriver` for Class 1 / 1.0 modems over pyserial."""

    def __init__(self, url: str, *, init: Sequence[str] = ("ATE0V1Q0", "AT+FCLASS=1"),
                 optional_init: Sequence[str] = ("AT+VCID=1",),
                 dial_command: str = "ATDT", dial_timeout: float = 90.0,
                 command_timeout: float = 5.0,
                 port_factory: Callable[[str], ATPort] = ATPort.open,
                 speed: float = 1.0) -> None:
        self.url = url
        self.init_commands = tuple(init)
        self.optional_init = tuple(optional_init)  # e.g. caller ID on; ERROR is fine
        self._ready = False
        self.dial_command = dial_command
        self.dial_timeout = dial_timeout
        self.command_timeout = command_timeout
        self._port_factory = port_factory
        self._port: ATPort | None = None
        self._cancel = threading.Event()
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.speed = speed  # line seconds per wall second (a simulated line's speed factor)
        self.t31 = t31.T31(name=url, speed=speed, command_timeout=command_timeout)
        self._notes: list[Progress] = []  # progress not yet handed to the owner
        self._progress: ProgressCallback = _ignore

    def cancel(self) -> None:
        """Stop a running send/receive from another thread (it ends with CANCELLED).

        Checked between protocol steps, so a page in flight finishes first.
        """
        self._cancel.set()

    # --- port / init ----------------------------------------------------------------------
    @property
    def port(self) -> ATPort:
        if self._port is None:
            self._port = self._port_factory(self.url)
        return self._port

    def close(self) -> None:
        self._ready = False
        if self._port is not None:
            self._port.close()
            self._port = None

    def _cmd(self, cmd: str, timeout: float | None = None,
             after_connect: at.AfterConnect = None) -> at.Result:
        return self.port.command(cmd, timeout or self.command_timeout, after_connect).result

    def _init(self) -> None:
        p = self.port
        p.drain()
        # wake up: a modem left in data mode needs an abort first
        wake = min(2.0, self.command_timeout)
        try:
            self._cmd("AT", wake)
        except ModemTimeout:
            p.write(b"\x10\x03\x18")  # end a stuck transmit, abort a stuck receive
            p.at.reset()
            p.drain()
            self._cmd("AT", self.command_timeout)
        for c in self.init_commands:
            r = self._cmd(c)
            if r is not at.Result.OK:
                raise ModemError(f"init command {c!r} -> {r}")
        for c in self.optional_init:
            r = self._cmd(c)
            if r is not at.Result.OK:
                log.info("class1 optional init refused", extra={"port": self.url, "command": c,
                                                               "result": str(r)})
        self._ready = True

    def probe(self) -> LineStatus:
        try:
            self.port.drain()
            self._cmd("AT", min(2.0, self.command_timeout))
            self._cmd("ATE0V1Q0")
            resp = self.port.command("AT+FCLASS=?", self.command_timeout)
            classes: tuple[str, ...] = ()
            for line in resp.lines:
                classes = tuple(c.strip() for c in line.replace("(", "").replace(")", "")
                                .split(":")[-1].split(",") if c.strip())
            ident = self.port.command("ATI3", self.command_timeout)
            detail = " ".join(ident.lines) or "Class 1 modem"
            ok = resp.result is at.Result.OK and "1" in classes
            return LineStatus(ok=ok, detail=detail if ok else f"no Class 1 ({classes})",
                              classes=classes)
        except ModemError as exc:
            return LineStatus(ok=False, detail=str(exc))

    # --- sending --------------------------------------------------------------------------
    def send(self, dial_string: str, pages: list[PageImage], options: SendOptions,
             progress: ProgressCallback) -> CallResult:
        result = CallResult(cause=HangupCause.MODEM_ERROR, started_at=_now())
        engine: Engine | None = None
        self._cancel.clear()
        try:
            self._init()
            progress(Progress(ProgressKind.DIALING, pages=len(pages)))
            dial = dial_string if dial_string.upper().startswith("AT") else (
                self.dial_command + dial_string)
            log.info("class1 dial", extra={"port": self.url, "dial": dial_string})
            try:
                r = self._cmd(dial, self.dial_timeout, after_connect="rx")
            except ModemTimeout:
                self.port.abort_receive()
                result.cause, result.message = HangupCause.NO_ANSWER, "no answer (dial timeout)"
                return result
            if r is not at.Result.CONNECT:
                result.cause, result.message = _DIAL_CAUSES.get(
                    r, (HangupCause.MODEM_ERROR, f"dial: {r}"))
                return result
            result.connected_at = _now()
            self.t31.dialled()
            engine = T30Sender(pages, options)
            self._run(engine, progress, None)
        except (_Cancelled, AbortCall):
            result.cause, result.message = HangupCause.CANCELLED, "cancelled"
        except PortError as exc:
            result.cause, result.message = HangupCause.MODEM_ERROR, str(exc)
        except ModemError as exc:
            result.cause, result.message = HangupCause.MODEM_ERROR, f"modem: {exc}"
        finally:
            self._hangup()
            result.ended_at = _now()
        return self._fill(result, engine)

    # --- receiving ------------------------------------------------------------------------
    def decline(self, call: IncomingCall, reason: str) -> None:
        """A modem cannot refuse a call: it is left to ring out unanswered."""

    def wait_for_call(self, timeout: float) -> IncomingCall | None:
        if not self._ready:
            self._init()
        p = self.port
        watch = CallWatch(p.clock() + timeout)
        while True:
            if watch.state is Watch.WAITING:
                while p.unsolicited:
                    watch.event(p.unsolicited.popleft())
            watch.tick(p.clock())
            if watch.state is Watch.DONE:
                return watch.call
            ev = p.next_event(watch.deadline)
            if watch.state is Watch.GRACE and isinstance(ev, at.CallerId):
                watch.event(ev)
                p.unsolicited.clear()

    def receive(self, call: IncomingCall, options: ReceiveOptions, on_page: PageSink,
                progress: ProgressCallback) -> CallResult:
        result = CallResult(cause=HangupCause.MODEM_ERROR, started_at=_now())
        engine: T30Receiver | None = None
        self._cancel.clear()
        try:
            self._cmd("AT+FCLASS=1")
            if options.adaptive_answer and self._cmd("AT+FAE=1") is not at.Result.OK:
                log.info("class1 modem has no adaptive answer (+FAE); answering as fax",
                         extra={"port": self.url})
            answer = self.port.command("ATA", 40.0, "tx")
            r = answer.result
            if any(line.strip().upper() == "DATA" for line in answer.lines):
                self._hangup()
                result.cause = HangupCause.NO_CARRIER
                result.message = "a data modem called, not a fax machine (adaptive answer); hung up"
                return result
            if r is not at.Result.CONNECT:
                result.cause = HangupCause.NO_CARRIER
                result.message = f"answer: {r}"
                return result
            result.connected_at = _now()
            self.t31.answered()
            engine = T30Receiver(options)
            self._run(engine, progress, on_page)
        except (_Cancelled, AbortCall):
            result.cause, result.message = HangupCause.CANCELLED, "cancelled"
        except ModemError as exc:
            result.cause, result.message = HangupCause.MODEM_ERROR, f"modem: {exc}"
        finally:
            if engine is not None:  # pages confirmed before a failure are still delivered
                for page in engine.take_pages():
                    on_page(page)
            self._hangup()
            result.ended_at = _now()
        return self._fill(result, engine)

    # --- engine loop ----------------------------------------------------------------------
    def _run(self, engine: Engine, progress: ProgressCallback, on_page: PageSink | None) -> None:
        """Drive ``engine`` to its hangup.

        Progress notes are handed to ``progress`` when the line does not wait on us: at
        once before a receive, but before a transmission only once the DCE has started
        the carrier (CONNECT), where its preamble or training and its buffer give the
        callback time; the owner's bookkeeping then never delays a T.30 turnaround.
        Received pages go to ``on_page`` at once, before the response that confirms them.
        """
        self._progress = progress
        self._notes = []
        action = engine.start()
        while True:
            self._notes.extend(engine.take_progress())
            if on_page is not None and isinstance(engine, T30Receiver):
                for page in engine.take_pages():
                    on_page(page)
            if isinstance(action, m.Hangup):
                self._flush_progress()
                return
            if not isinstance(action, m.Silence | m.SendFrames | m.SendTCF | m.SendImage):
                self._flush_progress()
            if self._cancel.is_set():
                log.info("class1 cancelled", extra={"port": self.url})
                with contextlib.suppress(ModemError):  # tell the far end, best effort
                    self.perform(m.SendFrames((build_frame(FCF.DCN, x=engine.is_caller),)))
                raise _Cancelled
            ev = self.perform(action)
            self._flush_progress()  # if the action did not
            action = engine.step(ev)

    def _flush_progress(self) -> None:
        notes, self._notes = self._notes, []
        try:
            for note in notes:
                self._progress(note)
        except AbortCall:
            self._cancel.set()  # acted on at the next protocol step

    def perform(self, action: m.Action) -> m.Event:
        """Carry out one T.30 action on the port and return what happened.

        The :class:`~modem.t31.T31` machine decides every step; this loop does its I/O
        and tells it the time.  Raises :class:`ModemTimeout` when the modem stops
        answering.
        """
        log.debug("class1 action", extra={"port": self.url, "action": type(action).__name__})
        p = self.port
        machine = self.t31
        todo = deque(machine.perform(action, p.clock()))
        while True:
            while todo:
                out = todo.popleft()
                if isinstance(out, t31.Finished):
                    return out.event
                if isinstance(out, t31.Stalled):
                    raise ModemTimeout(out.message)
                if isinstance(out, t31.Command):
                    p.send_command(out.text, out.after_connect)
                elif isinstance(out, t31.SendData):
                    try:
                        p.send_data(out.data, deadline=out.deadline, flow_control=out.flow_control)
                    except ModemTimeout as exc:
                        todo.extend(machine.stalled(str(exc), p.clock()))
                    else:
                        todo.extend(machine.written(p.clock()))
                elif isinstance(out, t31.AbortReceive):
                    p.abort_receive()
                elif isinstance(out, t31.CarrierUp):
                    self._flush_progress()  # the preamble or training is on the line
            deadline = machine.deadline
            if deadline is None:  # pragma: no cover - every state but IDLE has one
                raise ModemError(f"T.31 machine stopped in {machine.state.value}")
            if not machine.awaiting:
                p.pause_until(deadline)
                todo.extend(machine.timeout(p.clock()))
                continue
            ev = p.next_event(deadline)
            if isinstance(ev, at.Timeout):
                p.expire()
            todo.extend(machine.receive(ev, p.clock()))

    def _hangup(self) -> None:
        self.t31.hung_up()
        if self._port is None:
            return
        p = self._port
        try:
            if p.at.mode is at.Mode.DATA_RX:
                p.abort_receive()
            elif p.at.mode is at.Mode.DATA_TX:
                p.end_data_now()  # drops what a stalled DCE did not take: never blocks
                p.at.reset()
            p.at.reset()
            p.command("ATH0", max(self.command_timeout, 1.0))
            p.unsolicited.clear()  # RINGs of the call just ended
        except ModemError as exc:
            log.warning("class1 hangup failed", extra={"port": self.url, "error": str(exc)})

    _fill = staticmethod(fill_result)


def _ignore(note: Progress) -> None:
    pass


def _conforms(driver: Class1Driver) -> FaxLineDriver:  # pragma: no cover - type check only
    return driver
