"""The simulated telephone exchange and its simulated Class 1 modems.

:class:`SimExchange` holds numbered endpoints and sets up calls between them.
An endpoint is either a :class:`SimModem` (a Class 1 modem behind a real pty,
for a DTE such as our driver, efax or HylaFAX) or a remote fax machine (see
:mod:`modem.sim.spandsp` and :class:`BusyRemote`/:class:`SilentRemote`).

During a call the two endpoints exchange :mod:`modem.sim.line` events; the
exchange relays them, applies the endpoints' :class:`~modem.sim.line.Faults`
(bit errors on page data, dropping the line after so many page octets) and
keeps a :class:`Call` record with every carrier (simulated start/end times,
octets, frame types) for tests.

Time is simulated (:class:`~modem.sim.line.SimClock`): ``speed=50`` makes a
call run fifty times faster than real time, with every duration measured in
simulated seconds unchanged.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import queue
import random
import select
import threading
import tty
from collections.abc import Callable
from dataclasses import dataclass, field

from modem.sim.class1_dce import (
    AnswerRequest,
    Class1DCE,
    DialRequest,
    HangupRequest,
    ToDTE,
    ToLine,
)
from modem.sim.line import (
    CallAnswered,
    CallCleared,
    CallOffered,
    CarrierOff,
    CarrierOn,
    CarrierRecord,
    Data,
    Faults,
    HdlcFrame,
    LineEvent,
    Participant,
    SimClock,
    T30Sniffer,
    describe,
    fcf_of,
    flip_bits,
)

log = logging.getLogger(__name__)

_MCF = 0x8C  # T.30 FCFs as fcf_of gives them (X bit clear)
_DCN = 0xFA


def digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


class Endpoint:
    """Something with a number on the exchange."""

    kind = "endpoint"

    def __init__(self, exchange: SimExchange, number: str, name: str) -> None:
        self.exchange = exchange
        self.number = number
        self.name = name
        self.faults = Faults()
        self.call: Call | None = None  # the call this endpoint is in (ringing or connected)

    @property
    def clock(self) -> SimClock:
        return self.exchange.clock

    def deliver(self, call: Call, ev: LineEvent) -> None:
        """Called by the exchange (any thread).  Must not block."""

    def close(self) -> None:
        """Stop threads and release resources."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.number}>"


@dataclass
class Call:
    """One call through the exchange; times are simulated seconds."""

    id: int
    caller: Endpoint
    callee: Endpoint
    dialed: str
    started: float
    state: str = "ringing"  # ringing | connected | ended
    answered: float | None = None
    ended: float | None = None
    cleared_by: str = ""
    reason: str = ""
    carriers: list[CarrierRecord] = field(default_factory=list)
    sniffer: T30Sniffer = field(default_factory=T30Sniffer)
    bit_flips: int = 0
    rng: random.Random | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)
    _open: dict[int, CarrierRecord] = field(default_factory=dict)
    _mcfs: dict[int, int] = field(default_factory=dict)  # MCFs sent, by id(endpoint)

    def other(self, ep: Endpoint) -> Endpoint:
        return self.callee if ep is self.caller else self.caller

    @property
    def duration(self) -> float:
        """Simulated seconds from answer to clearing (0 if never answered)."""
        if self.answered is None or self.ended is None:
            return 0.0
        return self.ended - self.answered

    def frames(self, sender: Endpoint | None = None) -> list[int]:
        """FCFs of every V.21 frame sent (by ``sender`` if given), in order."""
        out: list[int] = []
        for c in self.carriers:
            if sender is None or c.sender == sender.name:
                out.extend(c.frames)
        return out


class SimExchange:
    """A phone exchange with numbers.  ``speed`` scales simulated time (see module doc)."""

    def __init__(self, speed: float = 1.0, seed: int = 1) -> None:
        self.clock = SimClock(speed)
        self._lock = threading.Lock()
        self._endpoints: dict[str, Endpoint] = {}
        self.calls: list[Call] = []
        self._ids = 0
        self._seed = seed
        self.on_call_end: list[Callable[[Call], None]] = []

    # --- directory ------------------------------------------------------------------------

    def add_line(self, number: str, name: str | None = None) -> SimModem:
        """A local line: a simulated Class 1 modem on a new pty."""
        modem = SimModem(self, number, name or number)
        self._register(modem)
        return modem

    def add_remote(self, number: str, kind: str, name: str | None = None, **options: object) -> Endpoint:
        """A remote.  ``kind``: receiver, sender, busy, no_answer, voice, drop_mid_page.

        ``receiver``/``sender``/``drop_mid_page`` are spandsp T.38 terminals
        (:class:`modem.sim.spandsp.SpandspFax`); options go to its constructor
        (``ecm``, ``ident``, ``drop_after_page_bytes``...).
        """
        nm = name or f"{kind}-{number}"
        ep: Endpoint
        if kind == "busy":
            ep = BusyRemote(self, number, nm)
        elif kind == "no_answer":
            ep = SilentRemote(self, number, nm)
        elif kind == "voice":
            ep = VoiceRemote(self, number, nm, **options)  # type: ignore[arg-type]
        elif kind in ("receiver", "sender", "drop_mid_page"):
            from modem.sim.spandsp import SpandspFax

            drop = options.pop("drop_after_page_bytes", 3000 if kind == "drop_mid_page" else None)
            ep = SpandspFax(self, number, nm, **options)  # type: ignore[arg-type]
            if drop is not None:
                ep.faults.drop_after_page_bytes = int(drop)  # type: ignore[call-overload]
            ep.kind = kind
        else:
            raise ValueError(f"unknown remote kind {kind!r}")
        self._register(ep)
        return ep

    def _register(self, ep: Endpoint) -> None:
        with self._lock:
            key = digits(ep.number)
            if key in self._endpoints:
                ep.close()
                raise ValueError(f"number {ep.number} is taken")
            self._endpoints[key] = ep

    @property
    def endpoints(self) -> list[Endpoint]:
        with self._lock:
            return list(self._endpoints.values())

    def resolve(self, dialed: str) -> Endpoint | None:
        """The endpoint a dial string reaches: exact digits, else a unique suffix match."""
        d = digits(dialed)
        if not d:
            return None
        with self._lock:
            if d in self._endpoints:
                return self._endpoints[d]
            hits = [ep for k, ep in self._endpoints.items() if k.endswith(d) or d.endswith(k)]
        if len(hits) == 1 and len(d) >= 4:
            return hits[0]
        return None

    def by_name(self, name: str) -> Endpoint | None:
        for ep in self.endpoints:
            if ep.name == name:
                return ep
        return None

    def close(self) -> None:
        for ep in self.endpoints:
            ep.close()
        self.clock.close()

    def __enter__(self) -> SimExchange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- calls ----------------------------------------------------------------------------

    def place_call(self, caller: Endpoint, dialed: str, data: bool = False) -> Call | str:
        """Start a call.  Returns the ringing :class:`Call`, or a failure result code."""
        now = self.clock.now()
        target = self.resolve(dialed)
        with self._lock:  # checking the callee is free and seizing it must be one step
            self._ids += 1
            cid = self._ids
            if target is None:
                log.info("sim: unknown number", extra={"caller": caller.name, "dialed": dialed})
                return "NO CARRIER"
            if target is caller or target.faults.busy or target.call is not None:
                log.info("sim: busy", extra={"caller": caller.name, "callee": target.name})
                rec = Call(cid, caller, target, dialed, now, state="ended", ended=now, reason="busy")
                rec.done.set()
                self.calls.append(rec)
                return "BUSY"
            call = Call(cid, caller, target, dialed, now)
            call.sniffer = T30Sniffer()
            caller.call = call
            target.call = call
            self.calls.append(call)
        log.info(
            "sim: call ringing",
            extra={"call_id": cid, "caller": caller.name, "callee": target.name, "sim_time": now},
        )
        if not target.faults.no_answer:
            target.deliver(call, CallOffered(caller.number, target.number, caller.name, data=data))
        return call

    def answer(self, call: Call, by: Endpoint) -> bool:
        with call.lock:
            if call.state != "ringing" or by is not call.callee:
                return False
            call.state = "connected"
            call.answered = self.clock.now()
        log.info("sim: call answered", extra={"call_id": call.id, "sim_time": call.answered})
        call.caller.deliver(call, CallAnswered())
        return True

    def hangup(self, call: Call, by: Endpoint | None, reason: str = "hangup") -> None:
        with call.lock:
            if call.state == "ended":
                return
            call.state = "ended"
            call.ended = self.clock.now()
            call.cleared_by = by.name if by is not None else "exchange"
            call.reason = reason
            for rec in call._open.values():
                rec.end = call.ended
            call._open.clear()
        for ep in (call.caller, call.callee):
            if ep.call is call:
                ep.call = None
            if ep is not by:
                ep.deliver(call, CallCleared(reason))
        log.info(
            "sim: call cleared",
            extra={"call_id": call.id, "by": call.cleared_by, "reason": reason,
                   "sim_time": call.ended},
        )
        call.done.set()
        for cb in list(self.on_call_end):
            cb(call)

    def relay(self, call: Call, sender: Endpoint, ev: LineEvent) -> None:
        """Carry a signal event from ``sender`` to the other end, applying faults."""
        drop = False
        with call.lock:
            if call.state != "connected":
                return
            now = self.clock.now()
            receiver = call.other(sender)
            sn = call.sniffer
            key = id(sender)
            if isinstance(ev, CarrierOn):
                sn.carrier_on(ev.mod)
                rec = CarrierRecord(sender.name, ev.mod, now, tcf=sn.in_tcf)
                call.carriers.append(rec)
                call._open[key] = rec
            elif isinstance(ev, CarrierOff):
                rec_off = call._open.pop(key, None)
                if rec_off is not None:
                    rec_off.end = now
                    sn.carrier_off()
            elif isinstance(ev, HdlcFrame):
                limit = sender.faults.dcn_after_pages
                if limit is not None and len(ev.data) >= 3 and fcf_of(ev.data) == _MCF:
                    sent = call._mcfs.get(key, 0)
                    call._mcfs[key] = sent + 1
                    if sent >= limit:  # this MCF goes out as DCN (same X bit)
                        ev = HdlcFrame(ev.data[:2] + bytes((_DCN | ev.data[2] & 1,)), ev.fcs_ok)
                sn.frame(ev.data)
                rec_f = call._open.get(key)
                if rec_f is not None:
                    rec_f.frames.append(fcf_of(ev.data))
                    rec_f.octets += len(ev.data)
            elif isinstance(ev, Data):
                rec_d = call._open.get(key)
                if rec_d is not None:
                    rec_d.octets += len(ev.data)
                    if rec_d.data_start is None:
                        # the chunk was sent over the time its bits take
                        rec_d.data_start = now - len(ev.data) * 8 / rec_d.rate
                    rec_d.data_end = now
                ber = max(call.caller.faults.bit_error_rate, call.callee.faults.bit_error_rate)
                tcf_err = call.caller.faults.tcf_errors or call.callee.faults.tcf_errors
                if ber > 0 and (not sn.in_tcf or tcf_err):
                    if call.rng is None:
                        call.rng = random.Random(self._seed * 7919 + call.id)
                    data, flips = flip_bits(ev.data, ber, call.rng)
                    call.bit_flips += flips
                    ev = Data(data)
                if not sn.in_tcf:
                    sn.page_bytes += len(ev.data)
                    limits = [
                        f.drop_after_page_bytes
                        for f in (call.caller.faults, call.callee.faults)
                        if f.drop_after_page_bytes is not None
                    ]
                    if limits and sn.page_bytes >= min(limits):
                        drop = True
            if log.isEnabledFor(logging.DEBUG) and not isinstance(ev, Data):
                log.debug(
                    "sim: line",
                    extra={"call_id": call.id, "from": sender.name, "event": describe(ev),
                           "sim_time": now},
                )
            receiver.deliver(call, ev)
        if drop:
            log.info("sim: dropping line mid-page", extra={"call_id": call.id})
            self.hangup(call, None, "dropped")

    def wait_idle(self, timeout: float) -> bool:
        """Wait (wall seconds) until no call is ringing or connected."""
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if all(c.state == "ended" for c in self.calls):
                return True
            time.sleep(0.01)
        return False


class BusyRemote(Endpoint):
    """A number that is always busy."""

    kind = "busy"

    def __init__(self, exchange: SimExchange, number: str, name: str) -> None:
        super().__init__(exchange, number, name)
        self.faults.busy = True


class VoiceRemote(Endpoint):
    """A number that answers (after ``answer_after`` simulated seconds) and never sends
    a fax signal: a person, an answering machine or a data modem, as far as fax goes."""

    kind = "voice"

    def __init__(self, exchange: SimExchange, number: str, name: str,
                 answer_after: float = 4.0) -> None:
        super().__init__(exchange, number, name)
        self.answer_after = answer_after

    def deliver(self, call: Call, ev: LineEvent) -> None:
        if isinstance(ev, CallOffered):
            timer = threading.Timer(self.clock.wall(self.answer_after),
                                    self.exchange.answer, (call, self))
            timer.daemon = True
            timer.start()


class SilentRemote(Endpoint):
    """A number that rings and never answers."""

    kind = "no_answer"

    def __init__(self, exchange: SimExchange, number: str, name: str) -> None:
        super().__init__(exchange, number, name)
        self.faults.no_answer = True


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

    def __init__(self, exchange: SimExchange, number: str, name: str) -> None:
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
