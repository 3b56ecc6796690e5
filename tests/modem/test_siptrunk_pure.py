"""The pure parts of modem.siptrunk: who may call (InviteGate), which number was called,
host:port parsing and the IFP size a far end's datagram limit allows."""

from __future__ import annotations

import ipaddress

import pytest

from modem.sip.events import IncomingCall
from modem.siptrunk.channel import called_number
from modem.siptrunk.gate import InviteGate, Verdict
from modem.siptrunk.media import max_ifp_data
from modem.siptrunk.settings import split_host_port


def test_gate_lets_only_the_trunk_in_at_a_bounded_rate() -> None:
    gate = InviteGate([ipaddress.ip_network("203.0.113.0/24"), ipaddress.ip_network("127.0.0.1")], rate=2)
    assert gate.check("198.51.100.7", 0.0) is Verdict.FORBIDDEN
    assert gate.check("not an address", 0.0) is Verdict.FORBIDDEN
    burst = [gate.check("203.0.113.9", 0.0) for _ in range(3)]
    assert burst == [Verdict.ACCEPT, Verdict.ACCEPT, Verdict.BUSY]
    assert gate.check("127.0.0.1", 0.5) is Verdict.ACCEPT  # one token back after half a second
    assert gate.check("127.0.0.1", 0.5) is Verdict.BUSY
    assert gate.check("127.0.0.1", 10.0) is Verdict.ACCEPT  # refilled, never beyond the burst


def invite(request_uri: str, to_uri: str) -> IncomingCall:
    caller = "sip:+12125550199@carrier"
    return IncomingCall("c1", caller, None, to_uri, request_uri, None, b"", ("10.0.0.1", 5060))


@pytest.mark.parametrize(
    ("request_uri", "to_uri", "called"),
    [
        ("sip:+12125550101@10.0.0.2:5060", "sip:+12125550199@carrier", "+12125550101"),  # a DID in the R-URI
        ("sip:umfax@10.0.0.2:5060", "<sip:12125550101@carrier>", "12125550101"),  # our contact; the DID in To
        ("sip:5551234@10.0.0.2", "sip:other@carrier", "5551234"),  # an unknown number in the R-URI
        ("sip:umfax@10.0.0.2", "sip:other@carrier", "other"),  # only our contact: To says the rest
        ("sip:umfax@10.0.0.2;user=phone", "tel:+12125550101", "+12125550101"),
    ],
)
def test_called_number(request_uri: str, to_uri: str, called: str) -> None:
    assert called_number(invite(request_uri, to_uri), ("+12125550100", "+12125550101"), "umfax") == called


def test_split_host_port() -> None:
    assert split_host_port("sip.example.net") == ("sip.example.net", 5060)
    assert split_host_port("sip.example.net:5080") == ("sip.example.net", 5080)
    assert split_host_port("[2001:db8::1]:5061") == ("2001:db8::1", 5061)
    assert split_host_port("[2001:db8::1]") == ("2001:db8::1", 5060)


def test_ifp_size_leaves_room_for_the_redundant_copies() -> None:
    assert max_ifp_data(400, 3) == 92  # four IFPs and their framing in 400 octets
    assert max_ifp_data(None, 0) == 256  # the terminal's own cap
    assert max_ifp_data(72, 3) == 24  # never below a useful size: copies are dropped instead
