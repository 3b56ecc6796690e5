"""[[trunks]]: SIP trunks whose calls carry faxes as T.38; each channel is a line."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator

from umfax.config.lines import LineConfig
from umfax.config.section import Duration, _Section

SIP_PORT_PREFIX = "sip:"


def _host_port(value: str, what: str, *, default_port: int | None = 5060, any_port: bool = False) -> str:
    value = value.strip()
    if not value:
        return value
    host, sep, port = value.rpartition(":")
    if not sep or "]" in port:  # no port given (or an IPv6 address without one)
        if default_port is None:
            raise ValueError(f"{what} needs a port, e.g. '{value}:5060'")
        return value
    if not host or not port.isdigit() or not (0 if any_port else 1) <= int(port) < 65536:
        raise ValueError(f"{what} {value!r} is not host:port (e.g. 'sip.example.com:5060')")
    return value


class TrunkConfig(_Section):
    """One SIP trunk (a carrier or a PBX).  Its ``channels`` become lines named
    ``NAME-1``, ``NAME-2``... with the port ``sip:NAME/1``..., which claim jobs, answer
    calls and show in ``umfax lines`` like modem lines."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.]{1,24}$")
    enabled: bool = True
    # Where REGISTERs go (host or host:port); empty: the trunk does not register (a PBX
    # or carrier that sends calls to our address by IP).
    registrar: str = ""
    # Host (and port) calls are sent to; empty: the registrar.
    proxy: str = ""
    # A proxy every request goes through first (an SBC or NAT helper); empty: none.
    outbound_proxy: str = ""
    # Our SIP domain / the host part of our From and of the numbers we call; empty: the
    # registrar's (or proxy's) host.
    domain: str = ""
    username: str = ""
    auth_username: str = ""  # empty: username
    password_env: str = ""  # the environment variable holding the SIP password
    transport: Literal["udp", "tcp"] = "udp"
    register_expires: Duration = Field(default=600.0, ge=60, le=86400)
    # Our SIP address.  Port 0 takes any free port (fine behind a registration).
    listen: str = "0.0.0.0:5060"
    # The address to put in Contact, Via and SDP when it differs from `listen`'s
    # (a public address in front of NAT); empty: the address we reach the trunk from.
    public_address: str = ""
    # UDP ports for media (T.38), as "first-last"; each call takes one.
    media_ports: str = "40000-40999"
    channels: int = Field(default=4, ge=1, le=500)
    # The trunk's numbers (DIDs); calls to them are answered and routed like a modem
    # line's.  caller_id: the From user of our calls (empty: username when registering,
    # else the first DID); the lines' number is caller_id or the first DID.
    dids: list[str] = []
    caller_id: str = ""
    # How a number is written in the Request-URI of our calls: "e164" (+12125550110)
    # or "dial_rules" (as a modem would dial it, with [dial_rules]' prefixes).
    number_format: Literal["e164", "dial_rules"] = "e164"
    # Where INVITEs may come from besides the registrar/proxy/outbound proxy: IP
    # addresses or networks ("203.0.113.0/24").  Others get 403 and are never answered.
    allowed_sources: list[str] = []
    # Incoming INVITEs per second accepted from all sources together (beyond: 503).
    max_invites_per_second: float = Field(default=10.0, gt=0)
    send: bool = True
    receive: bool = True
    station_id: str = ""
    ecm: bool = True
    max_bit_rate: Literal[2400, 4800, 7200, 9600, 12000, 14400] = 14400
    batch_jobs: int = Field(default=10, ge=1, le=100)
    # T.38 or G.711: "prefer" switches to T.38 and goes on in G.711 audio in the same call
    # when the far end will not (488/415, no re-INVITE); "require" ends such a call with
    # no_t38 (retried later); "never" faxes in G.711 only.
    t38: Literal["prefer", "require", "never"] = "prefer"
    # T.38: UDPTL redundancy depth (secondary IFPs in each datagram), 0-5.
    t38_redundancy: int = Field(default=3, ge=0, le=5)
    # As the caller: how long to wait after the answer for the far end's T.38 re-INVITE
    # before sending our own.
    t38_reinvite_after: Duration = Field(default=3.0, ge=0, le=30)
    # A call with no T.38 packet from the far end for this long is ended.
    media_timeout: Duration = Field(default=30.0, ge=5, le=300)
    # Seconds of unanswered ringing before an outgoing call is given up.
    ring_timeout: Duration = Field(default=60.0, ge=5, le=300)
    # On an answered call, listen for fax tones (CNG, V.21) first and treat a caller who
    # sends none as a voice caller ([voice]: voicemail, reject or forward).  False: every
    # call is a fax.
    listen_for_voice: bool = False
    # How often to check the registration is still good, as a line's probe.
    probe_interval: Duration = 30.0
    max_consecutive_failures: int = Field(default=5, ge=1)

    @field_validator("registrar", "proxy", "outbound_proxy")
    @classmethod
    def _addresses(cls, value: str) -> str:
        return _host_port(value, "the address")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return _host_port(value, "listen", default_port=None, any_port=True)

    @field_validator("media_ports")
    @classmethod
    def _media_ports(cls, value: str) -> str:
        first, sep, last = value.partition("-")
        if not (sep and first.strip().isdigit() and last.strip().isdigit()):
            raise ValueError(f"media_ports {value!r} is not 'first-last' (e.g. '40000-40999')")
        low, high = int(first), int(last)
        if not 1024 <= low <= high < 65536:
            raise ValueError(f"media_ports {value!r}: ports between 1024 and 65535, first <= last")
        return f"{low}-{high}"

    @field_validator("allowed_sources")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        for source in value:
            try:
                ipaddress.ip_network(source, strict=False)
            except ValueError as exc:
                raise ValueError(f"allowed_sources: {source!r} is not an IP address or network") from exc
        return value

    @model_validator(mode="after")
    def _complete(self) -> TrunkConfig:
        if not (self.registrar or self.proxy):
            raise ValueError(f"trunk {self.name}: set registrar or proxy (where calls go)")
        if self.username and self.registrar and not self.password_env:
            raise ValueError(
                f"trunk {self.name}: registering as {self.username!r} needs password_env "
                "(the name of the environment variable holding the password)"
            )
        low, high = (int(p) for p in self.media_ports.split("-"))
        if high - low + 1 < self.channels:
            raise ValueError(
                f"trunk {self.name}: media_ports has {high - low + 1} port(s) for {self.channels} channels"
            )
        return self

    @property
    def media_port_range(self) -> tuple[int, int]:
        low, high = (int(p) for p in self.media_ports.split("-"))
        return low, high

    @property
    def number(self) -> str:
        """The number we present: caller_id, else the first DID."""
        return self.caller_id or (self.dids[0] if self.dids else "")

    def channel_lines(self) -> list[LineConfig]:
        """One line per channel, as the line manager sees it."""
        return [
            LineConfig(
                name=f"{self.name}-{n}",
                port=f"{SIP_PORT_PREFIX}{self.name}/{n}",
                number=self.number,
                enabled=self.enabled,
                send=self.send,
                receive=self.receive,
                station_id=self.station_id,
                ecm=self.ecm,
                max_bit_rate=self.max_bit_rate,
                batch_jobs=self.batch_jobs,
                probe_interval=self.probe_interval,
                answer_after_rings=1,  # a SIP call does not ring in rings: it is answered at once
                max_consecutive_failures=self.max_consecutive_failures,
                dial_format=self.number_format,
                init=[],
            )
            for n in range(1, self.channels + 1)
        ]


def trunk_channel(port: str) -> tuple[str, int] | None:
    """``("NAME", 3)`` for a trunk channel's port ``sip:NAME/3``, else None."""
    if not port.startswith(SIP_PORT_PREFIX):
        return None
    name, _, channel = port[len(SIP_PORT_PREFIX):].partition("/")
    return (name, int(channel)) if channel.isdigit() else None
