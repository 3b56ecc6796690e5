"""Exception root of the modem layer.

Everything the modem library raises on purpose derives from :class:`ModemError`.
"""

from __future__ import annotations


class ModemError(Exception):
    """Root of every error raised by the modem library."""


class ModemTimeout(ModemError):
    """The modem did not answer a command in time."""


class ModemProtocolError(ModemError):
    """The modem said something the AT parser or driver did not expect."""


class ModemCommandError(ModemError):
    """A command ended with ERROR (or another failing final result)."""

    def __init__(self, command: str, result: str) -> None:
        super().__init__(f"{command!r} -> {result}")
        self.command = command
        self.result = result


class PortError(ModemError):
    """The serial port could not be opened, read or written."""


class HDLCError(ModemError):
    """A malformed HDLC frame (bad FCS, too short, wrong address/control)."""


class T30Error(ModemError):
    """Misuse of the T.30 engine (an event it cannot take in its state)."""


class CodingError(ModemError):
    """A T.4/T.6 coded page could not be parsed (e.g. EOL scan for fill bits)."""
