"""One SIP trunk: its socket, its user agent, its registration, and its calls.

The trunk's thread is the only one that reads the SIP socket and fires the user agent's
timers; channels (other threads) act on the user agent through :meth:`SipTrunk.act`,
which holds the lock and flushes what the agent wants sent.  Each call's events are
queued to the channel that owns it; incoming calls wait in :attr:`SipTrunk.incoming`
for a free channel.
"""

from __future__ import annotations

import logging
import queue
import random
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from modem.errors import ModemError
from modem.sip import events as sipua
from modem.sip.message import StreamFramer
from modem.sip.ua import UserAgent
from modem.siptrunk.gate import InviteGate, Verdict
from modem.siptrunk.media import MediaPool
from modem.siptrunk.settings import Address, TrunkSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_DATAGRAM = 65535
TICK = 0.05


@dataclass
class Call:
    """A call as the trunk tracks it: its id and the events the user agent gave for it."""

    call_id: str
    incoming: sipua.IncomingCall | None = None
    events: queue.Queue[sipua.UAEvent] = field(default_factory=queue.Queue)
    ended: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class RegistrationState:
    registered: bool = False
    detail: str = "not registered yet"
    expires_at: float = 0.0


class SipTrunk:
    """The shared half of a trunk's channels (see :class:`modem.siptrunk.channel.SipChannel`)."""

    def __init__(self, settings: TrunkSettings, *, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.calls: dict[str, Call] = {}
        self.incoming: queue.Queue[Call] = queue.Queue()
        self.registration = RegistrationState(
            registered=settings.registrar is None,
            detail=(f"no answer yet from the registrar {_show(settings.registrar)}" if settings.registrar
                    else "no registration (calls by address)"),
        )
        self._sock: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._framer = StreamFramer()
        self.local: Address = settings.listen
        self.ua: UserAgent | None = None
        self._rng = rng or random.Random()
        self._gate: InviteGate | None = None
        media_host = settings.media_host or settings.listen[0]
        self.media = MediaPool(media_host, *settings.media_ports)

    # --- life -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        s = self.settings
        hop = _ip_of(s.next_hop) or s.next_hop
        resolved = _resolve([h for h in (s.registrar, s.proxy, s.outbound_proxy) if h])
        self._gate = InviteGate(s.trusted_networks(resolved), s.max_invites_per_second)
        if s.transport == "tcp":
            self._tcp = socket.create_connection(hop, timeout=5)
            self._tcp.setblocking(False)
            self.local = self._tcp.getsockname()[:2]
        else:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.bind(s.listen)
            self._sock.setblocking(False)
            self.local = self._sock.getsockname()[:2]
        self.contact_host = _route_host(hop, self.local[0])
        self.ua = UserAgent(
            sipua.UAConfig(
                local_host=self.contact_host,
                local_port=self.local[1],
                transport=s.transport,
                registrar=_ip_of(s.registrar),
                proxy=_ip_of(s.proxy),
                outbound_proxy=_ip_of(s.outbound_proxy),
                public_address=(s.public_host, self.local[1]) if s.public_host else None,
                domain=s.call_domain,
                username=s.username or s.caller_id or (s.dids[0] if s.dids else "umfax"),
                auth_username=s.auth_username or None,
                password=s.password,
                contact_user=s.username or "umfax",
                register_expires=int(s.register_expires),
                user_agent=s.user_agent,
            ),
            self._rng,
        )
        if s.registrar is not None:
            self.act(lambda ua, now: ua.register(now))
        self._thread = threading.Thread(target=self._run, name=f"sip-{s.name}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for sock in (self._sock, self._tcp):
            if sock is not None:
                sock.close()
        self._sock = self._tcp = None

    # --- acting on the user agent ------------------------------------------------------------
    def act(self, what: Callable[[UserAgent, float], T]) -> T:
        """Run ``what(ua, now)`` under the lock and send what the agent then wants sent."""
        with self._lock:
            if self.ua is None:
                raise ModemError(f"trunk {self.settings.name} is not started")
            result = what(self.ua, time.monotonic())
            self._flush()
            self._dispatch()
            return result

    def open_call(self, call_id: str) -> Call:
        with self._lock:
            call = self.calls.setdefault(call_id, Call(call_id))
            return call

    def forget(self, call: Call) -> None:
        with self._lock:
            self.calls.pop(call.call_id, None)

    # --- the thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                assert self.ua is not None
                deadline = self.ua.next_deadline()
            now = time.monotonic()
            wait = TICK if deadline is None else min(TICK, max(0.0, deadline - now))
            sock = self._sock or self._tcp
            if sock is None:
                return
            try:
                ready, _, _ = select.select([sock], [], [], wait)
            except (OSError, ValueError):
                return
            with self._lock:
                assert self.ua is not None
                if ready:
                    self._read(sock)
                self.ua.on_timer(time.monotonic())
                self._flush()
                self._dispatch()

    def _read(self, sock: socket.socket) -> None:
        assert self.ua is not None
        while True:
            try:
                if sock is self._tcp:
                    data = sock.recv(MAX_DATAGRAM)
                    if not data:
                        log.warning("SIP TCP connection closed by the far end",
                                    extra={"trunk": self.settings.name})
                        self._set_registration(False, "TCP connection to the trunk closed")
                        return
                    messages = [(m, self.settings.next_hop) for m in self._framer.feed(data)]
                else:
                    data, source = sock.recvfrom(MAX_DATAGRAM)
                    messages = [(data, source[:2])]
            except BlockingIOError:
                return
            except ModemError as exc:
                log.info("bad SIP stream data", extra={"trunk": self.settings.name, "error": str(exc)[:200]})
                return
            except OSError:
                return
            for message, source in messages:
                self.ua.receive(message, source, time.monotonic())

    def _flush(self) -> None:
        assert self.ua is not None
        for data, destination in self.ua.take_outgoing():
            try:
                if self._tcp is not None:
                    self._tcp.sendall(data)
                elif self._sock is not None:
                    self._sock.sendto(data, destination)
            except OSError as exc:
                log.warning("cannot send SIP message", extra={"trunk": self.settings.name, "to": destination,
                                                                "error": str(exc)})

    def _dispatch(self) -> None:
        assert self.ua is not None
        for event in self.ua.take_events():
            if isinstance(event, sipua.Registered):
                self._set_registration(True, f"registered with {_show(self.settings.registrar)}",
                                       time.monotonic() + event.expires)
            elif isinstance(event, sipua.RegistrationFailed):
                self._set_registration(False, f"registration refused: {event.code} {event.reason}".strip())
            elif isinstance(event, sipua.IncomingCall):
                self._incoming(event)
            else:
                call = self.calls.get(event.call_id)
                if call is None:
                    continue
                call.events.put(event)
                if isinstance(event, (sipua.CallEnded, sipua.CallFailed)):
                    call.ended.set()

    def _incoming(self, event: sipua.IncomingCall) -> None:
        assert self.ua is not None and self._gate is not None
        now = time.monotonic()
        verdict = self._gate.check(event.source[0], now)
        if verdict is Verdict.FORBIDDEN:
            log.warning("INVITE from outside the trunk refused",
                        extra={"trunk": self.settings.name, "source": event.source[0]})
            self.ua.reject(event.call_id, 403, "Forbidden", now)
            return
        if verdict is Verdict.BUSY or len(self.calls) >= self.settings.channels:
            self.ua.reject(event.call_id, 503, "Service Unavailable", now)
            return
        call = Call(event.call_id, incoming=event)
        self.calls[event.call_id] = call
        self.ua.ringing(event.call_id, now)
        self.incoming.put(call)

    def _set_registration(self, ok: bool, detail: str, expires_at: float = 0.0) -> None:
        if ok != self.registration.registered or detail != self.registration.detail:
            log.info("SIP registration",
                     extra={"trunk": self.settings.name, "registered": ok, "detail": detail})
        self.registration = RegistrationState(ok, detail, expires_at)


def _resolve(hosts: list[Address]) -> list[str]:
    out: list[str] = []
    for host, port in hosts:
        try:
            for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_UDP):
                out.append(str(info[4][0]))
        except OSError:
            log.warning("cannot resolve a trunk host", extra={"host": host})
    return out


def _ip_of(address: Address | None) -> Address | None:
    """``address`` with its host resolved to an IP address (the user agent resolves nothing)."""
    if address is None:
        return None
    found = _resolve([address])
    return (found[0], address[1]) if found else address


def _route_host(hop: Address, bound: str) -> str:
    """The local address packets to ``hop`` leave from (for Contact/Via/SDP)."""
    if bound not in ("0.0.0.0", ""):
        return bound
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(hop)
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _show(address: Address | None) -> str:
    return f"{address[0]}:{address[1]}" if address else ""
