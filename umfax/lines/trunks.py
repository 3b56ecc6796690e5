"""The SIP trunks of ``[[trunks]]``, built once per server; their channels are lines."""

from __future__ import annotations

from modem.siptrunk import SipChannel, SipTrunk, TrunkSettings, split_host_port
from umfax.config import Config, TrunkConfig, secret, trunk_channel
from umfax.errors import UmfaxError


class TrunkError(UmfaxError):
    """A trunk channel could not be opened."""


def trunk_settings(trunk: TrunkConfig) -> TrunkSettings:
    """What the modem library's trunk needs, from the configuration (the password read
    from the environment variable ``password_env`` names)."""
    password = secret(trunk.password_env, f"trunks.{trunk.name}.password_env") if trunk.password_env else ""
    listen_host, listen_port = split_host_port(trunk.listen, 5060)
    return TrunkSettings(
        name=trunk.name,
        listen=(listen_host, listen_port),
        registrar=split_host_port(trunk.registrar) if trunk.registrar else None,
        proxy=split_host_port(trunk.proxy) if trunk.proxy else None,
        outbound_proxy=split_host_port(trunk.outbound_proxy) if trunk.outbound_proxy else None,
        domain=trunk.domain,
        username=trunk.username,
        auth_username=trunk.auth_username,
        password=password,
        transport=trunk.transport,
        register_expires=trunk.register_expires,
        public_host=trunk.public_address,
        media_ports=trunk.media_port_range,
        channels=trunk.channels,
        dids=tuple(trunk.dids),
        caller_id=trunk.caller_id,
        allowed_sources=tuple(trunk.allowed_sources),
        max_invites_per_second=trunk.max_invites_per_second,
        t38=trunk.t38,
        t38_redundancy=trunk.t38_redundancy,
        t38_reinvite_after=trunk.t38_reinvite_after,
        media_timeout=trunk.media_timeout,
        ring_timeout=trunk.ring_timeout,
    )


class Trunks:
    """One :class:`SipTrunk` per enabled ``[[trunks]]`` entry, started by its first channel."""

    def __init__(self, config: Config) -> None:
        self.trunks = {t.name: SipTrunk(trunk_settings(t)) for t in config.trunks if t.enabled}

    def channel_for(self, port: str) -> SipChannel:
        found = trunk_channel(port)
        if found is None or found[0] not in self.trunks:
            raise TrunkError(f"{port} is not a channel of an enabled [[trunks]] entry")
        return SipChannel(self.trunks[found[0]], found[1])

    def registration(self) -> dict[str, str]:
        """Each trunk's registration state in words."""
        return {name: trunk.registration.detail for name, trunk in self.trunks.items()}

    def close(self) -> None:
        for trunk in self.trunks.values():
            trunk.close()
