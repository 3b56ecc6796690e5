"""The simulated phone network that ``umfax serve`` runs with no configuration.

Numbers are in the North American 555-01xx block, which is reserved for
fiction and never reaches a real subscriber:

==============  ===========  ==========================================================
Number          Name         What it is
==============  ===========  ==========================================================
+1 555 0100     ``line1``    local line 1: a simulated Class 1 modem on a pty
+1 555 0101     ``line2``    local line 2: a simulated Class 1 modem on a pty
+1 555 0110     ``receiver`` remote fax machine (spandsp) that answers and receives
+1 555 0111     ``busy``     remote number that is always busy
+1 555 0112     ``noanswer`` remote number that rings and never answers
+1 555 0113     ``dropper``  remote fax machine (spandsp) that answers, then the line
                             drops part-way through the first page
==============  ===========  ==========================================================

A fax sent from one local line to the other's number comes back in as an
inbound fax on that line (it rings, with caller ID).

Remotes take options (``Subscriber.options``, passed to
:meth:`SimExchange.add_remote`): ``ecm``, ``ident``, ``modems``, ``compressions``,
``answer_after``...

Service configuration refers to local lines as ``port = "sim:NAME"`` or
``port = "sim:NUMBER"`` (``sim:line1``, ``sim:+15550100``, ``sim:15550100``);
:meth:`SimNetwork.modem_for_port` resolves that to the :class:`SimModem`, whose
``device`` is the pty path to open like a serial port.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from modem.sim.endpoint import Endpoint, digits
from modem.sim.errors import SimPortError
from modem.sim.exchange import SimExchange
from modem.sim.remotes import BASIC_REMOTES, RemoteFactory
from modem.sim.sim_modem import SimModem
from modem.sim.spandsp import SPANDSP_REMOTES, spandsp_available

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Subscriber:
    number: str
    name: str
    kind: str  # "line" | "receiver" | "busy" | "no_answer" | "voice" | "drop_mid_page" | "sender"
    description: str
    # for remotes: keyword options of SimExchange.add_remote, e.g. {"ecm": True,
    # "ident": "+1 555 0110", "modems": ("v29", "v27"), "compressions": ("mh",)}
    options: Mapping[str, object] = field(default_factory=dict)


DEFAULT_SUBSCRIBERS: tuple[Subscriber, ...] = (
    Subscriber("+15550100", "line1", "line", "local line 1 (simulated Class 1 modem)"),
    Subscriber("+15550101", "line2", "line", "local line 2 (simulated Class 1 modem)"),
    Subscriber("+15550110", "receiver", "receiver", "remote fax that answers and receives"),
    Subscriber("+15550111", "busy", "busy", "remote number that is always busy"),
    Subscriber("+15550112", "noanswer", "no_answer", "remote number that never answers"),
    Subscriber("+15550113", "dropper", "drop_mid_page", "remote fax; line drops mid-page"),
)


#: Every remote kind the simulator has: the basic ones and spandsp's fax machines.
REMOTE_KINDS: Mapping[str, RemoteFactory] = {**BASIC_REMOTES, **SPANDSP_REMOTES}


def build_exchange(speed: float = 1.0, seed: int = 1,
                   remotes: Mapping[str, RemoteFactory] = REMOTE_KINDS) -> SimExchange:
    """An exchange that knows ``remotes`` (all of :data:`REMOTE_KINDS` by default).

    The exchange itself knows only the basic remotes: the fax machines are passed in
    here, so :mod:`modem.sim.exchange` never imports :mod:`modem.sim.spandsp`.
    """
    return SimExchange(speed=speed, seed=seed, remotes=remotes)


def parse_sim_port(port: str) -> str:
    """``"sim:line1"`` -> ``"line1"``; ``"sim:+1 555 0100"`` -> ``"+1 555 0100"``."""
    if not port.startswith("sim:"):
        raise SimPortError(f"not a sim: port: {port!r}")
    ref = port[4:].strip()
    if not ref:
        raise SimPortError(f"empty sim: port: {port!r}")
    return ref


def is_sim_port(port: str) -> bool:
    return port.startswith("sim:")


class SimNetwork:
    """An exchange plus its subscribers, with lookup by ``sim:`` port."""

    def __init__(self, speed: float = 1.0, seed: int = 1) -> None:
        self.exchange = build_exchange(speed=speed, seed=seed)

    def add_line(self, number: str, name: str | None = None) -> SimModem:
        return self.exchange.add_line(number, name)

    def add_remote(self, number: str, kind: str, name: str | None = None,
                   **options: object) -> Endpoint:
        return self.exchange.add_remote(number, kind, name, **options)

    @property
    def lines(self) -> list[SimModem]:
        return [ep for ep in self.exchange.endpoints if isinstance(ep, SimModem)]

    def endpoint(self, ref: str) -> Endpoint | None:
        """By name, or by number (any punctuation)."""
        ep = self.exchange.by_name(ref)
        if ep is not None:
            return ep
        d = digits(ref)
        for ep in self.exchange.endpoints:
            if d and digits(ep.number) == d:
                return ep
        return None

    def modem_for_port(self, port: str) -> SimModem:
        """The local line a ``sim:NAME`` / ``sim:NUMBER`` port refers to."""
        ref = parse_sim_port(port)
        ep = self.endpoint(ref)
        if not isinstance(ep, SimModem):
            known = ", ".join(f"sim:{m.name} ({m.number})" for m in self.lines)
            raise SimPortError(f"{port!r} is not a simulated local line (known: {known})")
        return ep

    def device_for_port(self, port: str) -> str:
        """The pty path for a ``sim:`` port: what the serial driver opens."""
        return self.modem_for_port(port).device

    def close(self) -> None:
        self.exchange.close()

    def __enter__(self) -> SimNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_network(speed: float = 1.0,
                    subscribers: tuple[Subscriber, ...] = DEFAULT_SUBSCRIBERS) -> SimNetwork:
    """The no-configuration network: two local lines and four remote machines (see module doc).

    Remote fax machines need libspandsp2; without it they are left out (logged).
    """
    net = SimNetwork(speed=speed)
    have_spandsp = spandsp_available()
    for sub in subscribers:
        if sub.kind == "line":
            net.add_line(sub.number, sub.name)
        elif sub.kind in ("receiver", "sender", "drop_mid_page") and not have_spandsp:
            log.warning("sim: spandsp missing, remote fax left out",
                        extra={"number": sub.number, "remote": sub.name})
        else:
            net.add_remote(sub.number, sub.kind, sub.name, **dict(sub.options))
    return net


__all__ = [
    "DEFAULT_SUBSCRIBERS",
    "REMOTE_KINDS",
    "SimNetwork",
    "SimPortError",
    "Subscriber",
    "build_exchange",
    "default_network",
    "is_sim_port",
    "parse_sim_port",
]
