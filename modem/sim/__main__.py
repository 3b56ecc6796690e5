"""Run the default simulated network until interrupted: ``python -m modem.sim [--speed N]``.

Prints each subscriber with its number and, for local lines, the pty to open
(for example with ``efax -d``, ``minicom -D`` or pyserial).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from modem.sim.network import default_network
from modem.sim.sim_modem import SimModem


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m modem.sim", description=__doc__)
    ap.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    ap.add_argument("-v", "--verbose", action="store_true", help="log line events")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with default_network(speed=args.speed) as net:
        for ep in net.exchange.endpoints:
            where = ep.device if isinstance(ep, SimModem) else ""
            sys.stdout.write(f"{ep.number:<12} {ep.name:<10} {ep.kind:<14} {where}\n")
        sys.stdout.flush()
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
