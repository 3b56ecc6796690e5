"""``[printer]``: the virtual fax printer (IPP FaxOut at ``/ipp/faxout`` on the API's address)."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from umfax.config.section import _Section


class PrinterConfig(_Section):
    """Print to fax: any program's print dialog takes the number (IPP FaxOut, PWG 5100.15).

    Clients sign in with HTTP Basic: a user's email (or name) and their console password, or
    any name and one of their API keys as the password.  ``requesting-user-name`` alone is
    believed only from ``trusted_networks``."""

    enabled: bool = True  # served with the API ([api] enabled and listen)
    name: str = Field(default="Fax", min_length=1, max_length=127)  # printer-name
    location: str = ""  # printer-location
    info: str = "umfax fax printer"  # printer-info: what print dialogs list
    users: list[str] = []  # [[users]] or console users who may print; empty: everyone who may send
    # Networks whose requesting-user-name is believed without a password (e.g. "127.0.0.1/32"
    # for a CUPS server on this host).  Empty: every request signs in.
    trusted_networks: list[str] = []
    max_jobs_waiting: int = Field(default=100, ge=1)  # Create-Job jobs waiting for their document

    @field_validator("trusted_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"trusted_networks: {network!r} is not a network (e.g. 10.0.0.0/8)") from exc
        return value
