"""Class 1 / 1.0 (ITU-T T.31) line driver: runs the T.30 engine over an AT port.

Usage::

    driver = Class1Driver("/dev/ttyS0")            # or a pty path, or any pyserial URL
    status = driver.probe()                         # LineStatus(ok, detail, classes)
    result = driver.send("5551234", pages, SendOptions(local_id="+1 555 0100"), progress)
    call = driver.wait_for_call(timeout=60)         # IncomingCall (caller ID) or None
    result = driver.receive(call, ReceiveOptions(), on_page, progress)

Each T.30 action maps to T.31 commands: frames -> ``+FTH=3`` (the DCE adds flags and
FCS) / ``+FRH=3`` (frame + 2 FCS octets, then OK or ERROR); TCF and image data ->
``+FTM=<mod>`` / ``+FRM=<mod>`` (DLE-transparent, LSB first; ECM frames are framed by
us with zero insertion).  After ``ATD`` the DCE is already receiving HDLC (``CONNECT`` on
the callee's flags); after ``ATA`` it is already transmitting.

Turnarounds (T.30 5.3.2.4: 75 +- 20 ms of silence between the end of one signal and the
next): after *receiving*, the line is already silent when the DCE reports the end (the
frame's OK, or NO CARRIER after data), so the driver only lets the rest of the 75 ms pass
on its own clock before the next ``+FTH``/``+FTM`` (as HylaFAX's ``Class1SendMsgDelay``)
and spends no command round trip on it.  After *transmitting*, the DCE may release its
carrier after its OK, so the silence is the modem's: ``+FTS=7``.  ``speed`` scales those
deliberate pauses for a simulated line running ``speed`` times faster than real time.

Hardware flow control: pass ``port_factory=lambda u: ATPort.open(u, rtscts=True)``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from modem import at
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
from modem.errors import HDLCError, ModemError, ModemTimeout, PortError
from modem.hdlc import FCF, Frame, build_frame, parse_frame
from modem.pump import ATPort
from modem.t30 import messages as m
from modem.t30.engine import Engine, T30Receiver, T30Sender

log = logging.getLogger(__name__)

V21_OCTETS_PER_S = 300 / 8
TURNAROUND_MS = 75  # T.30 5.3.2.4: silence between the end of a signal and the next

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
        self._connected: str | None = None  # "rx"/"tx": a CONNECT already in hand
        self._cancel = threading.Event()
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.speed = speed  # line seconds per wall second (a simulated line's speed factor)
        self._rx_ended: float | None = None  # when the last received signal ended
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
            self._connected = "rx"
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
    def wait_for_call(self, timeout: float) -> IncomingCall | None:
        if not self._ready:
            self._init()
        p = self.port
        deadline = time.monotonic() + timeout
        fields: dict[str, str] = {}
        rings = 0
        while True:
            while p.unsolicited:
                ev = p.unsolicited.popleft()
                if isinstance(ev, at.CallerId):
                    fields[ev.key] = ev.value
                elif isinstance(ev, at.Ring):
                    rings += 1
            if rings:
                # caller ID lines may follow the RING closely: give them a moment
                grace = time.monotonic() + 0.5
                while time.monotonic() < grace:
                    ev2 = p.next_event(grace)
                    if isinstance(ev2, at.CallerId):
                        fields[ev2.key] = ev2.value
                        p.unsolicited.clear()
                    elif isinstance(ev2, at.Timeout):
                        break
                return IncomingCall(caller_number=fields.get("NMBR", ""),
                                    caller_name=fields.get("NAME", ""),
                                    called_number=fields.get("NDID", fields.get("DDI", "")),
                                    rings=rings)
            if time.monotonic() >= deadline:
                return None
            p.next_event(deadline)

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
            self._connected = "tx"
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
                    self._send_frames((build_frame(FCF.DCN, x=engine.is_caller),))
                raise _Cancelled
            ev = self._perform(action)
            self._flush_progress()  # if the action did not
            action = engine.step(ev)

    def _flush_progress(self) -> None:
        notes, self._notes = self._notes, []
        try:
            for note in notes:
                self._progress(note)
        except AbortCall:
            self._cancel.set()  # acted on at the next protocol step

    def _perform(self, action: m.Action) -> m.Event:
        log.debug("class1 action", extra={"port": self.url, "action": type(action).__name__})
        if isinstance(action, m.SendFrames):
            return self._send_frames(action.frames)
        if isinstance(action, m.ReceiveFrames):
            return self._receive_frames(action.timeout)
        if isinstance(action, m.Silence):
            if self._rx_ended is not None and self._connected is None:
                self._turnaround(action.ms)  # we were receiving: the line is silent already
                return m.Done()
            self._connected = None
            r = self._cmd(f"AT+FTS={max(1, action.ms // 10)}")
            return m.Done() if r is at.Result.OK else m.LineLost(f"+FTS: {r}")
        if isinstance(action, m.SendTCF):
            return self._send_high_speed(action.modulation, action.bit_rate, bytes(action.octets))
        if isinstance(action, m.SendImage):
            return self._send_high_speed(action.modulation, action.bit_rate, action.data)
        if isinstance(action, m.ReceiveTCF):
            return self._receive_high_speed(action.modulation, action.timeout, idle=3.0)
        if isinstance(action, m.ReceiveImage):
            return self._receive_high_speed(action.modulation, action.timeout, idle=10.0)
        raise ModemError(f"unknown action {action!r}")  # pragma: no cover

    def _received(self) -> None:
        """The signal we were receiving has ended (now, on our clock)."""
        self._rx_ended = time.monotonic()

    def _turnaround(self, ms: int = TURNAROUND_MS) -> None:
        """Let ``ms`` of line time pass since the end of the last received signal."""
        if self._rx_ended is None:
            return
        left = ms / 1000 / self.speed - (time.monotonic() - self._rx_ended)
        self._rx_ended = None
        if left > 0:
            time.sleep(left)

    def _send_frames(self, frames: tuple[bytes, ...]) -> m.Event:
        p = self.port
        if self._connected != "tx":
            self._connected = None
            self._turnaround()
            r = self._cmd("AT+FTH=3", 10.0, after_connect="tx")
            if r is not at.Result.CONNECT:
                return m.LineLost(f"+FTH=3: {r}")
        self._connected = None
        self._flush_progress()  # the V.21 preamble (1 s of flags) is on the line
        for i, frame in enumerate(frames):
            last = i == len(frames) - 1
            log.info("class1 tx frame", extra={"port": self.url, "frame": _name(frame),
                                               "octets": len(frame)})
            p.send_data(frame)
            timeout = 5.0 + (len(frame) + 40) / V21_OCTETS_PER_S
            r = p.wait_final(timeout, what="HDLC frame").result
            if r is at.Result.CONNECT and not last:
                continue
            if r is at.Result.OK and last:
                return m.Done()
            if r is at.Result.OK:
                # the DCE ended the carrier early: reopen for the rest
                r2 = self._cmd("AT+FTH=3", 10.0, after_connect="tx")
                if r2 is at.Result.CONNECT:
                    continue
            return m.LineLost(f"sending HDLC: {r}")
        return m.Done()  # pragma: no cover

    def _receive_frames(self, timeout: float) -> m.Event:
        p = self.port
        deadline = time.monotonic() + timeout
        frames: list[Frame] = []
        bad = 0
        while True:
            if self._connected == "rx":
                self._connected = None
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    r = self._cmd("AT+FRH=3", left, after_connect="rx")
                except ModemTimeout:
                    p.abort_receive()
                    break
                if r is at.Result.NO_CARRIER:
                    self._received()
                if r is at.Result.NO_CARRIER and not frames:
                    continue  # carrier came and went: keep listening until the deadline
                if r is at.Result.FCERROR:
                    continue
                if r is not at.Result.CONNECT:
                    if r is at.Result.ERROR:
                        continue
                    break
            data, complete = p.receive_data(idle_timeout=5.0)
            if not complete:
                bad += 1
                break
            try:
                res = p.wait_final(5.0, what="+FRH").result
            except ModemTimeout:
                bad += 1
                break
            if res is not at.Result.OK or len(data) < 5:
                bad += 1
                log.info("class1 rx bad frame", extra={"port": self.url, "result": str(res),
                                                       "octets": len(data)})
                deadline = max(deadline, time.monotonic() + 3.0) if frames else deadline
                continue
            try:
                frame = parse_frame(data[:-2])
            except HDLCError:
                bad += 1
                continue
            log.info("class1 rx frame", extra={"port": self.url, "frame": frame.name,
                                               "octets": len(data) - 2})
            frames.append(frame)
            if frame.final:
                self._received()
                break
            deadline = time.monotonic() + 3.0
        if frames:
            return m.FramesReceived(tuple(frames), bad)
        return m.FrameError() if bad else m.TimedOut()

    def _send_high_speed(self, modulation: int, bit_rate: int, data: bytes) -> m.Event:
        self._connected = None
        self._turnaround()
        r = self._cmd(f"AT+FTM={modulation}", 10.0, after_connect="tx")
        if r is not at.Result.CONNECT:
            return m.LineLost(f"+FTM={modulation}: {r}")
        self._flush_progress()  # training is on the line, and the DCE buffers our data
        log.info("class1 tx data", extra={"port": self.url, "modulation": modulation,
                                          "octets": len(data)})
        duration = len(data) * 8 / bit_rate
        try:
            self.port.send_data(data, timeout=30.0 + 2 * duration)
        except ModemTimeout as exc:
            return m.LineLost(f"modem stopped taking data: {exc}")
        r = self.port.wait_final(30.0 + duration, what=f"+FTM={modulation} data").result
        return m.Done() if r is at.Result.OK else m.LineLost(f"after image data: {r}")

    def _receive_high_speed(self, modulation: int, timeout: float, idle: float) -> m.Event:
        p = self.port
        self._connected = None
        try:
            r = self._cmd(f"AT+FRM={modulation}", timeout, after_connect="rx")
        except ModemTimeout:
            p.abort_receive()
            return m.TimedOut()
        if r is at.Result.FCERROR:
            return m.WrongCarrier()
        if r is not at.Result.CONNECT:
            return m.TimedOut() if r is at.Result.NO_CARRIER else m.LineLost(f"+FRM: {r}")
        data, complete = p.receive_data(idle_timeout=idle)
        if complete:
            with contextlib.suppress(ModemTimeout):
                p.wait_final(5.0, what="+FRM end")
            self._received()
        log.info("class1 rx data", extra={"port": self.url, "modulation": modulation,
                                          "octets": len(data), "complete": complete})
        return m.DataReceived(data)

    def _hangup(self) -> None:
        self._connected = None
        self._rx_ended = None
        if self._port is None:
            return
        p = self._port
        try:
            if p.at.mode is at.Mode.DATA_RX:
                p.abort_receive()
            elif p.at.mode is at.Mode.DATA_TX:
                p.write(at.END_OF_DATA)
                p.at.reset()
            p.at.reset()
            p.command("ATH0", max(self.command_timeout, 1.0))
            p.unsolicited.clear()  # RINGs of the call just ended
        except ModemError as exc:
            log.warning("class1 hangup failed", extra={"port": self.url, "error": str(exc)})

    @staticmethod
    def _fill(result: CallResult, engine: Engine | None) -> CallResult:
        if engine is None:
            return result
        if engine.result is not None:
            result.cause = engine.result.cause
            result.message = engine.result.message
        result.remote_id = engine.remote_id
        result.remote_nsf = engine.remote_nsf
        result.pages_done = engine.pages_done
        if engine.params is not None:
            result.bit_rate = engine.params.bit_rate
            result.encoding = engine.params.encoding
            result.ecm = engine.params.ecm
            result.y_res = engine.params.y_res
        return result


def _ignore(note: Progress) -> None:
    pass


def _name(frame: bytes) -> str:
    try:
        return parse_frame(frame).name
    except HDLCError:
        return "?"


def _conforms(driver: Class1Driver) -> FaxLineDriver:  # pragma: no cover - type check only
    return driver
