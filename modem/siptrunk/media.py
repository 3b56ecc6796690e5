"""UDP media sockets for calls: a pool over the trunk's port range, and the T.38 pump.

:func:`run_t38` is the thin I/O loop around the sans-IO pieces: datagrams in ->
:class:`~modem.t38.udptl.UdptlDecoder` -> :func:`~modem.t38.ifp.decode_ifp` ->
:class:`~modem.t38.terminal.T38Terminal`, and back out the same way, with the
terminal's deadlines as the socket's timeouts.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from modem.errors import ModemError
from modem.siptrunk.settings import Address
from modem.t38.framing import with_repeats
from modem.t38.ifp import decode_ifp, encode_ifp
from modem.t38.terminal import T38Terminal
from modem.t38.udptl import UdptlDecoder, UdptlEncoder

log = logging.getLogger(__name__)

MAX_DATAGRAM = 2048
TICK = 0.02  # the longest the pump sleeps without looking at its stop conditions


class MediaPortsExhausted(ModemError):
    """Every port of the trunk's media range is taken."""


class MediaPool:
    """Binds one UDP socket per call in ``[low, high]`` on ``host`` (ports in use by
    others are skipped)."""

    def __init__(self, host: str, low: int, high: int) -> None:
        self.host, self.low, self.high = host, low, high
        self._next = low
        self._lock = threading.Lock()

    def open(self) -> socket.socket:
        with self._lock:
            for _ in range(self.high - self.low + 1):
                port = self._next
                self._next = self.low if port >= self.high else port + 1
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    sock.bind((self.host, port))
                except OSError:
                    sock.close()
                    continue
                return sock
        raise MediaPortsExhausted(f"no free UDP port in {self.low}-{self.high} on {self.host}")


@dataclass(frozen=True)
class T38Settings:
    redundancy: int = 3
    version: int = 0
    max_datagram: int | None = None  # the far end's T38FaxMaxDatagram (UDPTL payload octets)
    media_timeout: float = 30.0


def max_ifp_data(max_datagram: int | None, redundancy: int) -> int:
    """Field data octets per IFP so that a datagram with its ``redundancy`` secondaries
    stays within the far end's ``T38FaxMaxDatagram`` (read as the UDPTL payload size, the
    stricter of the two readings peers use)."""
    budget = (max_datagram or 400) // (redundancy + 1) - 8  # 8: IFP and UDPTL framing
    return max(24, min(256, budget))


@dataclass
class MediaOutcome:
    ended_by: str  # "engine" (the T.30 call ended), "stopped" (the call went away), "silent"
    lost_ifps: int = 0
    datagrams_in: int = 0
    datagrams_out: int = 0


def run_t38(
    sock: socket.socket,
    far: Address,
    terminal: T38Terminal,
    settings: T38Settings,
    *,
    stopped: Callable[[], bool],
    on_step: Callable[[], None] = lambda: None,
) -> MediaOutcome:
    """Pump ``terminal`` over ``sock`` to ``far`` until its engine hangs up, ``stopped()``
    says the call is gone (BYE, cancel), or the line is silent both ways for
    ``media_timeout`` s (then the terminal is hung up, so its engine ends with
    ``line_dropped`` and that reason).  Silence counts only while we send nothing either:
    a receiving fax machine says nothing for a whole page (15 s of a fine page at 14400
    bit/s, a minute at 4800), and while we send, T.30's own timers bound the wait.
    ``on_step`` runs after every wake-up (progress hand-over; it may raise to abort)."""
    encoder = UdptlEncoder(settings.redundancy, max_datagram=settings.max_datagram)
    decoder = UdptlDecoder()
    outcome = MediaOutcome(ended_by="engine")
    now = time.monotonic()
    terminal.start(now)
    last_heard = now
    sock.setblocking(False)
    while True:
        now = time.monotonic()
        for ifp, copies in with_repeats(terminal.poll(now)):
            datagram = encoder.encode(encode_ifp(ifp, settings.version))
            for _ in range(copies):  # an indicator's repeats: one datagram, sent again
                sock.sendto(datagram, far)
                outcome.datagrams_out += 1
            last_heard = now  # not silent: see above
        on_step()
        if terminal.finished:
            break
        if stopped():
            outcome.ended_by = "stopped"
            terminal.hang_up(now, "the far end hung up")
            on_step()
            break
        if now - last_heard > settings.media_timeout:
            outcome.ended_by = "silent"
            terminal.hang_up(now, f"no T.38 packet from the far end for {settings.media_timeout:g} s")
            on_step()
            break
        deadline = terminal.next_deadline()
        wait = TICK if deadline is None else min(TICK, max(0.0, deadline - now))
        ready, _, _ = select.select([sock], [], [], wait)
        if not ready:
            continue
        while True:
            try:
                data, _source = sock.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                break
            outcome.datagrams_in += 1
            last_heard = time.monotonic()
            lost = decoder.lost
            try:
                packets = decoder.decode(data)
            except ModemError as exc:
                log.info("bad UDPTL datagram dropped", extra={"error": str(exc)[:200]})
                continue
            lost_before = decoder.lost - lost  # IFPs skipped for good before these (no FCS in T.38)
            for raw in packets:
                try:
                    ifp = decode_ifp(raw, settings.version)
                except ModemError as exc:
                    log.info("bad IFP dropped", extra={"error": str(exc)[:200]})
                    lost_before += 1
                    continue
                terminal.receive(ifp, last_heard, lost_before)
                lost_before = 0
    outcome.lost_ifps = decoder.lost
    return outcome
