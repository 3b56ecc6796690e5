"""Opening a line's driver from its ``port``: a pyserial URL or device path, ``sim:NUMBER``,
or ``sip:TRUNK/N`` (a channel of a SIP trunk)."""

from __future__ import annotations

from typing import Protocol

from modem.api import FaxLineDriver
from umfax.config import LineConfig
from umfax.errors import UmfaxError, describe_error


class LineOpenError(UmfaxError):
    """A line's modem could not be opened."""


class SimulatedPorts(Protocol):
    def device_for(self, port: str) -> str:
        """The pty path of the simulated modem a ``sim:`` port names."""
        ...

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second."""
        ...


class TrunkChannels(Protocol):
    def channel_for(self, port: str) -> FaxLineDriver:
        """The driver of the trunk channel a ``sip:TRUNK/N`` port names."""
        ...


def open_line(
    line: LineConfig, sim: SimulatedPorts | None = None, trunks: TrunkChannels | None = None
) -> FaxLineDriver:
    """The driver for ``line``; the port itself opens on first use (and is probed then)."""
    from modem.class1 import Class1Driver

    if line.port.startswith("sip:"):
        if trunks is None:
            raise LineOpenError(f"line {line.name}: {line.port} needs its [[trunks]] entry")
        return trunks.channel_for(line.port)

    url = line.port
    speed = 1.0
    if line.simulated:
        if sim is None:
            raise LineOpenError(f"line {line.name}: {line.port} needs the simulated network")
        try:
            url = sim.device_for(line.port)
        except ValueError as exc:
            raise LineOpenError(f"line {line.name}: {describe_error(exc)}") from exc
        speed = sim.speed  # the driver's deliberate pauses (turnarounds) run that much faster
    return Class1Driver(url, init=(*line.init, "AT+FCLASS=1"), speed=speed)
