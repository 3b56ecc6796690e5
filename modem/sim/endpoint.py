"""What has a number on the simulated exchange, and the record of a call between two.

:class:`Endpoint` is the base of every subscriber (local lines, remote fax machines,
busy numbers...).  An endpoint talks to its exchange only through the
:class:`Switchboard` protocol, so the endpoints' modules need not import the exchange
(:mod:`modem.sim.exchange` imports them, never the other way round).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Protocol

from modem.sim.line import CarrierRecord, Faults, LineEvent, SimClock, T30Sniffer


def digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


class Switchboard(Protocol):
    """What an endpoint asks of the exchange it is attached to."""

    @property
    def clock(self) -> SimClock: ...

    def place_call(self, caller: Endpoint, dialed: str, data: bool = False) -> Call | str: ...

    def answer(self, call: Call, by: Endpoint) -> bool: ...

    def hangup(self, call: Call, by: Endpoint | None, reason: str = "hangup") -> None: ...

    def relay(self, call: Call, sender: Endpoint, ev: LineEvent) -> None: ...


class Endpoint:
    """Something with a number on the exchange."""

    kind = "endpoint"

    def __init__(self, exchange: Switchboard, number: str, name: str) -> None:
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



__all__ = ["Call", "Endpoint", "Switchboard", "digits"]
