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

import logging
import random
import threading
from collections.abc import Callable, Mapping

from modem.sim.endpoint import Call, Endpoint, digits
from modem.sim.line import (
    CallAnswered,
    CallCleared,
    CallOffered,
    CarrierOff,
    CarrierOn,
    CarrierRecord,
    Data,
    HdlcFrame,
    LineEvent,
    SimClock,
    T30Sniffer,
    describe,
    fcf_of,
    flip_bits,
)
from modem.sim.remotes import (
    BASIC_REMOTES,
    BusyRemote,
    RemoteFactory,
    SilentRemote,
    VoiceRemote,
)
from modem.sim.sim_modem import SimModem

log = logging.getLogger(__name__)

_MCF = 0x8C  # T.30 FCFs as fcf_of gives them (X bit clear)
_DCN = 0xFA


class SimExchange:
    """A phone exchange with numbers.  ``speed`` scales simulated time (see module doc)."""

    def __init__(self, speed: float = 1.0, seed: int = 1,
                 remotes: Mapping[str, RemoteFactory] | None = None) -> None:
        self.clock = SimClock(speed)
        # remote kind -> factory; the basic kinds always, fax machines when passed in
        self.remote_kinds: dict[str, RemoteFactory] = {**BASIC_REMOTES, **(remotes or {})}
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
        """A remote of one of :attr:`remote_kinds`; ``options`` go to its factory.

        Always known: ``busy``, ``no_answer``, ``voice`` (:mod:`modem.sim.remotes`).  The
        fax machines ``receiver``/``sender``/``drop_mid_page`` (spandsp T.38 terminals,
        options ``ecm``, ``ident``, ``drop_after_page_bytes``...) are there when the
        exchange was built with them, as :func:`modem.sim.network.build_exchange` does.
        """
        factory = self.remote_kinds.get(kind)
        if factory is None:
            known = ", ".join(sorted(self.remote_kinds))
            raise ValueError(f"unknown remote kind {kind!r} (this exchange knows: {known})")
        ep = factory(self, number, name or f"{kind}-{number}", **options)
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



__all__ = [
    "BusyRemote",
    "Call",
    "Endpoint",
    "SilentRemote",
    "SimExchange",
    "SimModem",
    "VoiceRemote",
    "digits",
]
