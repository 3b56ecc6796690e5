"""Errors of the SIP layer, under the modem library's root (:class:`modem.errors.ModemError`)."""

from __future__ import annotations

from modem.errors import ModemError


class SipError(ModemError):
    """Root of every error the SIP package raises on purpose."""


class SipParseError(SipError):
    """A malformed or oversized SIP message, URI or header (the message says which)."""


class SipUsageError(SipError):
    """The user agent was asked for something its state does not allow (unknown call, ...)."""
