"""The simulated phone network behind ``sim:`` lines, built from the configuration."""

from __future__ import annotations

from modem.sim.network import SimNetwork, Subscriber, default_network
from umfax.config import Config


class SimulatedLines:
    """Owns the network for one server; resolves ``sim:NUMBER`` ports to pty paths."""

    def __init__(self, config: Config) -> None:
        subscribers = [
            Subscriber(line.port.removeprefix("sim:"), line.name, "line", f"local line {line.name}")
            for line in config.lines
            if line.simulated and line.enabled
        ]
        subscribers += [
            Subscriber(
                remote.number,
                remote.name or remote.kind,
                remote.kind,
                f"simulated {remote.kind}",
                # ecm, ident... once the [[simulator.remotes]] section carries them
                dict(getattr(remote, "options", None) or {}),
            )
            for remote in config.simulator.remotes
        ]
        self.network: SimNetwork = default_network(
            speed=config.simulator.speed, subscribers=tuple(subscribers)
        )

    @property
    def speed(self) -> float:
        return self.network.exchange.clock.speed

    def device_for(self, port: str) -> str:
        return self.network.device_for_port(port)

    def close(self) -> None:
        self.network.close()
