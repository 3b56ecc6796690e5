"""Exception root of the modem layer.

Everything the modem library raises on purpose derives from :class:`ModemError`; the
simulator's errors (:mod:`modem.sim.errors`) derive from it too.
"""

from __future__ import annotations


class ModemError(Exception):
    """Root of every error raised by the modem library."""


class ModemTimeout(ModemError):
    """The modem did not answer a command in time."""


class ModemProtocolError(ModemError):
    """The modem said something the AT parser or driver did not expect."""


class PortError(ModemError):
    """The serial port could not be opened, read or written."""


class HDLCError(ModemError):
    """A malformed HDLC frame (bad FCS, too short, wrong address/control)."""


class T30Error(ModemError):
    """Misuse of the T.30 engine (an event it cannot take in its state)."""


class UdptlError(ModemError):
    """A malformed UDPTL datagram (T.38 clause 9): truncated, bad length, trailing octets."""


class SdpError(ModemError):
    """Malformed SDP (RFC 4566), or an offer/answer that breaks RFC 3264's rules."""


class DigestError(ModemError):
    """A digest authentication challenge (RFC 7616) that cannot be parsed or answered."""


class IfpError(ModemError):
    """A malformed T.38 IFP packet (or one that cannot be encoded in the asked version)."""


class T38Error(ModemError):
    """Misuse of the T.38 terminal (a call it cannot take in its state)."""
