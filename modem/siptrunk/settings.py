"""What a SIP trunk needs to know: addresses, credentials, channels, T.38 choices."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

Address = tuple[str, int]


def split_host_port(value: str, default_port: int = 5060) -> Address:
    """``"host:port"`` (or ``"host"``, or ``"[v6]:port"``) as a (host, port) pair."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return value, default_port


@dataclass(frozen=True)
class TrunkSettings:
    name: str
    listen: Address  # our SIP socket (port 0: any)
    registrar: Address | None = None
    proxy: Address | None = None  # where calls go; None: the registrar
    outbound_proxy: Address | None = None  # every request goes here first
    domain: str = ""
    username: str = ""
    auth_username: str = ""
    password: str = ""
    transport: str = "udp"
    register_expires: float = 600.0
    public_host: str = ""  # for Contact, Via and SDP; empty: the address we reach the trunk from
    media_host: str = ""  # where media sockets bind; empty: listen's host
    media_ports: tuple[int, int] = (40000, 40999)
    channels: int = 1
    dids: tuple[str, ...] = ()
    caller_id: str = ""  # our From user; empty: the username when registering, else the first DID
    allowed_sources: tuple[str, ...] = ()  # IPs / networks besides the trunk's own hosts
    max_invites_per_second: float = 10.0
    t38: str = "prefer"  # "prefer" (G.711 when refused), "require" (else no_t38), "never" (G.711)
    t38_redundancy: int = 3
    t38_reinvite_after: float = 3.0
    media_timeout: float = 30.0
    ring_timeout: float = 60.0
    user_agent: str = "umfax"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def next_hop(self) -> Address:
        """Where our requests are sent first."""
        hop = self.outbound_proxy or self.proxy or self.registrar
        if hop is None:
            raise ValueError(f"trunk {self.name}: no registrar or proxy")
        return hop

    @property
    def call_domain(self) -> str:
        """The host part of the numbers we call and of our From."""
        if self.domain:
            return self.domain
        hop = self.proxy or self.registrar
        return hop[0] if hop else self.listen[0]

    def trusted_networks(self, resolved: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """Networks INVITEs may come from: the trunk's hosts (as ``resolved``) and allowed_sources."""
        return [ipaddress.ip_network(n, strict=False) for n in (*resolved, *self.allowed_sources)]
