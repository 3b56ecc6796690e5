"""ITU-T T.30 fax protocol, sans-IO."""

from modem.t30.dis import Capabilities, Params
from modem.t30.engine import T30Receiver, T30Sender

__all__ = ["Capabilities", "Params", "T30Receiver", "T30Sender"]
