"""Errors of the simulated phone network, under the modem layer's root.

:class:`SimError` derives from :class:`modem.errors.ModemError`.  The concrete errors also
keep the built-in base they have always had (``ValueError``, ``RuntimeError``), so code
that caught those still does.
"""

from __future__ import annotations

from modem.errors import ModemError


class SimError(ModemError):
    """Root of every error the simulator raises on purpose."""


class SimPortError(SimError, ValueError):
    """A ``sim:`` port that names no local line."""


class SpandspUnavailable(SimError, RuntimeError):
    """libspandsp could not be loaded (or refused to make a terminal)."""


__all__ = ["SimError", "SimPortError", "SpandspUnavailable"]
