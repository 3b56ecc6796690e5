"""Who may call us: the trunk's own hosts and listed networks, at a bounded rate.

Pure (time passed in): :class:`InviteGate` answers, for each incoming INVITE, whether it
is let through, refused (403: not from the trunk) or put off (503: too many at once).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Verdict(enum.Enum):
    ACCEPT = "accept"
    FORBIDDEN = "forbidden"  # 403: not the trunk, never answered
    BUSY = "busy"  # 503: over the rate


class InviteGate:
    """A source filter and a token bucket (``rate`` INVITEs per second, bursts of ``burst``)."""

    def __init__(self, networks: Iterable[Network], rate: float, burst: float | None = None) -> None:
        self.networks = list(networks)
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self.burst
        self._at: float | None = None

    def allows_source(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def check(self, host: str, now: float) -> Verdict:
        if not self.allows_source(host):
            return Verdict.FORBIDDEN
        if self._at is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1.0:
            return Verdict.BUSY
        self._tokens -= 1.0
        return Verdict.ACCEPT
