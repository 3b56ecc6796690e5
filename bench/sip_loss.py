"""The SIP bench's loss matrix: one-page ECM calls over UDPTL on a lossy, jittery network,
in virtual time.

Every call, whoever the terminals are, crosses the same harness: each side's IFPs go
through :class:`modem.t38.udptl.UdptlEncoder` (redundancy ``r``) into a simulated network
that drops each datagram with probability ``loss`` and delays the others by a uniform
random 0..``jitter`` (so they can arrive out of order), then through a
:class:`modem.t38.udptl.UdptlDecoder`; IFPs it skipped are reported to the receiving
terminal (``lost_before`` for ours, skipped sequence numbers for spandsp).  Time is
virtual and event driven: datagrams are delivered at their arrival times, our terminal is
polled at its own deadlines (as the server's pump does), spandsp's terminal is ticked every
20 ms (``t38_terminal_send_timeout``, as FreeSWITCH drives it).

spandsp 0.0.6 has no UDPTL of its own: its IFPs are wrapped here, each sent as many times
as spandsp's ``count`` says (3 for indicators and data ends): the same datagram (one
sequence number) sent ``count`` times, as FreeSWITCH's mod_spandsp does; the decoder drops
the duplicates that arrive.  Our terminal repeats indicators itself (``indicator_repeats=3``).

Each call has its own ``random.Random`` seeded from (loss, redundancy, call number): the
same seeds for every row, so rows differ only by the terminals (the datagram streams
differ, so the drops land on different packets).
"""

from __future__ import annotations

import heapq
import itertools
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench.sip_page import text_page, text_page_tiff
from modem.api import HangupCause, ReceiveOptions, SendOptions
from modem.t30 import T30Receiver, T30Sender
from modem.t38.framing import with_repeats
from modem.t38.ifp import decode_ifp, encode_ifp
from modem.t38.terminal import T38Terminal
from modem.t38.udptl import UdptlDecoder, UdptlEncoder
from tests.modem.t38.spandsp_peer import STEP_S, SpandspTerminal

LIMIT_S = 300.0  # virtual seconds: longer than any T.30 failure path of one page


class Endpoint(Protocol):
    def start(self, now: float) -> None: ...
    def step(self, now: float) -> list[tuple[bytes, int]]: ...  # (IFP octets, copies) sent now
    def receive(self, ifp: bytes, now: float, lost_before: int) -> None: ...
    def next_wake(self) -> float | None: ...  # when it next has something to do
    def done(self) -> bool: ...
    def close(self) -> None: ...


class Ours:
    """Our T38Terminal (T.30 engine) as a harness endpoint.

    ``coalesce``: identical IFPs due at the same instant (the terminal's indicator repeats)
    go out as one datagram sent that many times, as run_t38 sends them (and FreeSWITCH
    spandsp's); False numbers each copy apart, as umfax did before (a diagnostic row).
    """

    def __init__(self, calling: bool, *, coalesce: bool = True) -> None:
        self.coalesce = coalesce
        if calling:
            engine: T30Sender | T30Receiver = T30Sender(
                [text_page()], SendOptions(local_id="+1 555 0100", ecm=True))
        else:
            engine = T30Receiver(ReceiveOptions(local_id="+1 555 0199", ecm=True))
        self.engine = engine
        self.term = T38Terminal(engine, now=0.0, calling=calling)
        self.pages = 0

    def start(self, now: float) -> None:
        self.term.start(now)

    def step(self, now: float) -> list[tuple[bytes, int]]:
        """What to send now, as run_t38 sends it (modem.t38.framing.with_repeats); without
        ``coalesce`` every copy is its own datagram, as umfax did before (for comparison)."""
        due = self.term.poll(now)
        if not self.coalesce:
            return [(encode_ifp(ifp), 1) for ifp in due]
        return [(encode_ifp(ifp), copies) for ifp, copies in with_repeats(due)]

    def receive(self, ifp: bytes, now: float, lost_before: int) -> None:
        self.term.receive(decode_ifp(ifp), now, lost_before=lost_before)

    def next_wake(self) -> float | None:
        return self.term.next_deadline()

    def done(self) -> bool:
        return self.term.finished

    def ok(self) -> bool:
        result = self.term.result
        return result is not None and result.cause is HangupCause.OK

    def outcome(self) -> str:
        result = self.term.result
        return "running" if result is None else str(result.cause)

    def received_pages(self) -> int:
        if isinstance(self.engine, T30Receiver):
            self.pages += sum(1 for p in self.engine.take_pages() if p.good)
        return self.pages

    def close(self) -> None:
        if not self.term.finished:
            self.term.hang_up(0.0, "bench call limit")


class Spandsp(SpandspTerminal):
    """spandsp's t38_terminal as a harness endpoint, honouring its repeat counts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._copies: list[tuple[bytes, int]] = []
        self._tick = 0  # 20 ms ticks done
        super().__init__(*args, **kwargs)

    def _tx(self, _s: Any, _u: Any, buf: Any, length: int, count: int) -> int:
        import ctypes

        data = ctypes.string_at(buf, length)
        self.sent.append(data)
        self._copies.append((data, max(1, count)))
        return 0

    def start(self, now: float) -> None:
        pass

    def step(self, now: float) -> list[tuple[bytes, int]]:  # type: ignore[override]
        while self.next_wake() <= now + 1e-9:
            super().step()
            self._tick += 1
        out, self._copies = self._copies, []
        return out

    def next_wake(self) -> float:
        return round((self._tick + 1) * STEP_S, 6)

    def receive(self, ifp: bytes, now: float, lost_before: int) -> None:  # type: ignore[override]
        super().receive(ifp, lost_before)

    def done(self) -> bool:
        return self.phase_e is not None

    def ok(self) -> bool:
        return self.phase_e == 0

    def outcome(self) -> str:
        return self.completion

    def received_pages(self) -> int:
        return int(self.stats().pages_rx)


@dataclass
class Network:
    """One direction of the simulated network: loss and uniform jitter, a datagram queue
    ordered by arrival time."""

    rng: random.Random
    loss: float
    jitter_s: float
    sent: int = 0
    dropped: int = 0
    _queue: list[tuple[float, int, bytes]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def send(self, datagram: bytes, now: float) -> None:
        self.sent += 1
        if self.rng.random() < self.loss:
            self.dropped += 1
            return
        arrival = now + self.rng.uniform(0.0, self.jitter_s)
        heapq.heappush(self._queue, (arrival, next(self._order), datagram))

    def next_arrival(self) -> float | None:
        return self._queue[0][0] if self._queue else None

    def due(self, now: float) -> list[bytes]:
        out = []
        while self._queue and self._queue[0][0] <= now + 1e-9:
            out.append(heapq.heappop(self._queue)[2])
        return out


@dataclass
class Link:
    """One direction end to end: encoder, network, decoder, receiving endpoint."""

    encoder: UdptlEncoder
    net: Network
    decoder: UdptlDecoder = field(default_factory=UdptlDecoder)
    _lost_seen: int = 0

    def deliver(self, to: Endpoint, now: float) -> None:
        for datagram in self.net.due(now):
            ifps = self.decoder.decode(datagram)
            lost, self._lost_seen = self.decoder.lost - self._lost_seen, self.decoder.lost
            for ifp in ifps:
                to.receive(ifp, now, lost)
                lost = 0


@dataclass(frozen=True)
class CallResult:
    completed: bool  # the receiver has the page and the sender says the call went well
    sender: str
    receiver: str
    seconds: float  # virtual call time
    datagrams: int
    lost_ifps: int  # IFPs the UDPTL decoders could not recover (both directions)


def run_call(caller: Any, callee: Any, *, loss: float, jitter_s: float, redundancy: int,
             seed: str) -> CallResult:
    """One call between ``caller`` (sends the page) and ``callee`` on the simulated network."""
    rng = random.Random(seed)
    up = Link(UdptlEncoder(redundancy), Network(rng, loss, jitter_s))
    down = Link(UdptlEncoder(redundancy), Network(rng, loss, jitter_s))
    t = 0.0
    caller.start(t)
    callee.start(t)
    try:
        while t < LIMIT_S and not (caller.done() and callee.done()):
            wakes = [w for w in (caller.next_wake(), callee.next_wake(), up.net.next_arrival(),
                                 down.net.next_arrival()) if w is not None]
            t = max(t, min(wakes)) if wakes else LIMIT_S
            up.deliver(callee, t)
            down.deliver(caller, t)
            for link, side in ((up, caller), (down, callee)):
                for ifp, copies in side.step(t):
                    datagram = link.encoder.encode(ifp)
                    for _ in range(copies):  # the same datagram again, as FreeSWITCH repeats
                        link.net.send(datagram, t)
        return CallResult(
            completed=caller.ok() and callee.received_pages() >= 1,
            sender=caller.outcome(), receiver=callee.outcome(), seconds=t,
            datagrams=up.net.sent + down.net.sent,
            lost_ifps=up.decoder.lost + down.decoder.lost,
        )
    finally:
        caller.close()
        callee.close()


# --- rows -------------------------------------------------------------------------------------

Pair = Callable[[Path], tuple[Any, Any]]


def umfax_to_spandsp(tmp: Path) -> tuple[Any, Any]:
    return Ours(calling=True), Spandsp(False, ecm=True, ident="SPANDSP RX", rx_file=tmp / "rx.tif")


def umfax_numbered_apart_to_spandsp(tmp: Path) -> tuple[Any, Any]:
    return (Ours(calling=True, coalesce=False),
            Spandsp(False, ecm=True, ident="SPANDSP RX", rx_file=tmp / "rx.tif"))


def spandsp_to_umfax_numbered_apart(tmp: Path) -> tuple[Any, Any]:
    return (Spandsp(True, ecm=True, ident="SPANDSP TX", tx_file=text_page_tiff(tmp)),
            Ours(calling=False, coalesce=False))


def spandsp_to_spandsp(tmp: Path) -> tuple[Any, Any]:
    return (Spandsp(True, ecm=True, ident="SPANDSP TX", tx_file=text_page_tiff(tmp)),
            Spandsp(False, ecm=True, ident="SPANDSP RX", rx_file=tmp / "rx.tif"))


def spandsp_to_umfax(tmp: Path) -> tuple[Any, Any]:
    return Spandsp(True, ecm=True, ident="SPANDSP TX", tx_file=text_page_tiff(tmp)), Ours(calling=False)


ROWS: dict[str, Pair] = {
    "umfax->spandsp": umfax_to_spandsp,
    "spandsp->spandsp": spandsp_to_spandsp,
    "spandsp->umfax": spandsp_to_umfax,
    "umfax*->spandsp": umfax_numbered_apart_to_spandsp,
    "spandsp->umfax*": spandsp_to_umfax_numbered_apart,
}


@dataclass(frozen=True)
class Cell:
    row: str
    loss: float
    redundancy: int
    results: tuple[CallResult, ...]

    @property
    def completed(self) -> int:
        return sum(r.completed for r in self.results)


def run_cell(row: str, loss: float, redundancy: int, calls: int, *, jitter_s: float = 0.060,
             tmp: Path | None = None) -> Cell:
    """``calls`` calls of ``row`` at one loss rate and redundancy depth."""
    results = []
    with tempfile.TemporaryDirectory(prefix="umfax-sip-bench-") as scratch:
        base = tmp or Path(scratch)
        for n in range(calls):
            caller, callee = ROWS[row](base)
            results.append(run_call(caller, callee, loss=loss, jitter_s=jitter_s,
                                    redundancy=redundancy, seed=f"{loss}/{redundancy}/{n}"))
    return Cell(row, loss, redundancy, tuple(results))
