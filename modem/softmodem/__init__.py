"""Fax over G.711 audio: spandsp's T.31 soft modem, in process, under our Class 1 driver.

:class:`G711Line` sends or receives one fax on an established call's RTP;
:mod:`modem.softmodem.pump` is its thread, :mod:`modem.softmodem.t31lib` the binding.
"""

from modem.softmodem.line import G711Line
from modem.softmodem.pump import AudioSettings, AudioStats, SoftModemPump
from modem.softmodem.t31lib import SoftModemError, t31_available

__all__ = ["AudioSettings", "AudioStats", "G711Line", "SoftModemError", "SoftModemPump", "t31_available"]
