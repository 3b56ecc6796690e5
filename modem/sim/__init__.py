"""Simulated phone network: Class 1 modems on real ptys, an exchange, remote fax machines.

See ``modem/sim/README.md``.  Entry points:

* :func:`default_network` - the no-config network of ``umfax serve``;
* :func:`build_exchange` / :class:`SimNetwork` - build your own (``add_line``,
  ``add_remote``); a bare :class:`SimExchange` knows only the remotes without a fax
  machine (busy, no answer, voice) unless given the factories;
* :class:`SimModem` - a local line; ``.device`` is its pty, ``.faults`` its fault knobs.
"""

from modem.sim.endpoint import Call, Endpoint
from modem.sim.errors import SimError, SimPortError, SpandspUnavailable
from modem.sim.exchange import SimExchange
from modem.sim.line import Faults, SimClock
from modem.sim.network import (
    DEFAULT_SUBSCRIBERS,
    REMOTE_KINDS,
    SimNetwork,
    build_exchange,
    default_network,
    is_sim_port,
    parse_sim_port,
)
from modem.sim.remotes import BusyRemote, SilentRemote, VoiceRemote
from modem.sim.sim_modem import SimModem

__all__ = [
    "DEFAULT_SUBSCRIBERS",
    "REMOTE_KINDS",
    "BusyRemote",
    "Call",
    "Endpoint",
    "Faults",
    "SilentRemote",
    "SimClock",
    "SimError",
    "SimExchange",
    "SimModem",
    "SimNetwork",
    "SimPortError",
    "SpandspUnavailable",
    "VoiceRemote",
    "build_exchange",
    "default_network",
    "is_sim_port",
    "parse_sim_port",
]
