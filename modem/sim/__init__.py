"""Simulated phone network: Class 1 modems on real ptys, an exchange, remote fax machines.

See ``modem/sim/README.md``.  Entry points:

* :func:`default_network` - the no-config network of ``umfax serve``;
* :class:`SimExchange` / :class:`SimNetwork` - build your own (``add_line``, ``add_remote``);
* :class:`SimModem` - a local line; ``.device`` is its pty, ``.faults`` its fault knobs.
"""

from modem.sim.exchange import BusyRemote, Call, Endpoint, SilentRemote, SimExchange, SimModem
from modem.sim.line import Faults, SimClock
from modem.sim.network import (
    DEFAULT_SUBSCRIBERS,
    SimNetwork,
    SimPortError,
    default_network,
    is_sim_port,
    parse_sim_port,
)

__all__ = [
    "DEFAULT_SUBSCRIBERS",
    "BusyRemote",
    "Call",
    "Endpoint",
    "Faults",
    "SilentRemote",
    "SimClock",
    "SimExchange",
    "SimModem",
    "SimNetwork",
    "SimPortError",
    "default_network",
    "is_sim_port",
    "parse_sim_port",
]
