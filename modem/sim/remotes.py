"""Remotes without a fax machine behind them: busy, never answering, a voice answering.

A remote kind is made by a :class:`RemoteFactory`; :data:`BASIC_REMOTES` are the kinds
here, which every :class:`~modem.sim.exchange.SimExchange` knows.  Fax machines
(spandsp) come from :data:`modem.sim.spandsp.SPANDSP_REMOTES`, passed in by the network
builder (:func:`modem.sim.network.build_exchange`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from modem.sim.endpoint import Call, Endpoint, Switchboard
from modem.sim.line import CallOffered, LineEvent

#: Makes the endpoint of one remote kind: ``factory(exchange, number, name, **options)``,
#: ``options`` being the kind's own keywords.
RemoteFactory = Callable[..., Endpoint]


class BusyRemote(Endpoint):
    """A number that is always busy."""

    kind = "busy"

    def __init__(self, exchange: Switchboard, number: str, name: str, **_options: object) -> None:
        super().__init__(exchange, number, name)
        self.faults.busy = True


class VoiceRemote(Endpoint):
    """A number that answers (after ``answer_after`` simulated seconds) and never sends
    a fax signal: a person, an answering machine or a data modem, as far as fax goes."""

    kind = "voice"

    def __init__(self, exchange: Switchboard, number: str, name: str,
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

    def __init__(self, exchange: Switchboard, number: str, name: str, **_options: object) -> None:
        super().__init__(exchange, number, name)
        self.faults.no_answer = True



BASIC_REMOTES: Mapping[str, RemoteFactory] = {
    "busy": BusyRemote,
    "no_answer": SilentRemote,
    "voice": VoiceRemote,
}

__all__ = ["BASIC_REMOTES", "BusyRemote", "RemoteFactory", "SilentRemote", "VoiceRemote"]
