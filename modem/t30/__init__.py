"""ITU-T T.30 fax protocol, sans-IO."""

from modem.t30.dis import Capabilities, Params
from modem.t30.engine import Engine
from modem.t30.receiver import T30Receiver
from modem.t30.sender import T30Sender

__all__ = ["Capabilities", "Engine", "Params", "T30Receiver", "T30Sender"]
