"""SIP trunks as fax lines: the I/O around the sans-IO SIP, SDP, UDPTL and T.38 pieces.

:class:`SipTrunk` owns a trunk's SIP socket, user agent and registration; each of its
channels is a :class:`SipChannel`, a :class:`modem.api.FaxLineDriver` whose calls carry
our T.30 engine over T.38.
"""

from modem.siptrunk.channel import SipChannel
from modem.siptrunk.settings import TrunkSettings, split_host_port
from modem.siptrunk.trunk import SipTrunk

__all__ = ["SipChannel", "SipTrunk", "TrunkSettings", "split_host_port"]
