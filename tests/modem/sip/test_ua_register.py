"""REGISTER against a digest registrar stub; NAT (rport); keep-alives; what a UA answers to
requests it does not take, and to malformed messages."""

from __future__ import annotations

import itertools

from modem.sip.events import Registered, RegistrationFailed
from modem.sip.message import SipRequest, SipResponse, parse_message
from modem.sip.ua import UserAgent
from tests.modem.sip.ua_harness import Net, Registrar, config

A = ("10.0.0.1", 5060)
REG = ("10.0.0.9", 5060)


def registered(**kw: object) -> tuple[Net, UserAgent, Registrar]:
    net = Net()
    ua = net.add_ua(config(*A, registrar=REG, **kw), 1)
    reg = Registrar()
    net.stubs[REG] = reg
    ua.register(0.0)
    net.run(0.1)
    return net, ua, reg


def test_register_answers_the_challenge_and_refreshes_before_expiry() -> None:
    net, ua, reg = registered()
    assert net.events[A] == [Registered(60)] and ua.registered
    first = [parse_message(d) for d in net.sent(A, "REGISTER")]
    assert len(first) == 2 and first[1].headers.get("Authorization") is not None
    assert first[0].call_id() == first[1].call_id() and first[1].cseq().seq == first[0].cseq().seq + 1
    assert first[0].via().branch != first[1].via().branch and "rport" in first[0].via().params
    assert first[0].headers.get("Contact") == "<sip:fax@10.0.0.1:5060>;expires=3600"
    net.run(53.9)
    assert len(net.sent(A, "REGISTER")) == 2
    net.run(54.1)  # 60 s granted: refreshed 6 s early
    assert len(net.sent(A, "REGISTER")) == 4 and net.events[A] == [Registered(60), Registered(60)]
    assert reg.challenged == 2


def test_stale_nonce_gets_a_new_answer() -> None:
    net, _ua, reg = registered()
    reg.stale_next = True
    net.run(60)
    assert net.events[A][-1] == Registered(60)
    assert len(net.sent(A, "REGISTER")) == 5  # challenge, good but stale, new nonce


def test_wrong_password_fails_once_per_challenge_and_retries_with_backoff() -> None:
    net, _ua, _reg = registered(password="wrong", register_retry=10.0, register_retry_max=25.0)
    assert net.events[A] == [RegistrationFailed(401, "Unauthorized")]
    assert len(net.sent(A, "REGISTER")) == 2  # never a third try on the same challenge
    net.run(100)
    starts = [t for t, s, _, d in net.wire if d.startswith(b"REGISTER")][::2]
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(starts)]
    assert gaps[:3] == [10.0, 20.0, 25.0]


def test_registration_timeout_is_408_and_retried() -> None:
    net = Net()
    ua = net.add_ua(config(*A, registrar=REG, register_retry=5.0), 1)
    ua.register(0.0)
    net.run(40)
    assert net.events[A][0] == RegistrationFailed(408, "Request Timeout")
    assert net.now >= 32 and len(net.sent(A, "REGISTER")) > 7  # retransmitted by timer E


def test_nat_rport_and_received_correct_the_contact() -> None:
    net = Net()
    ua = net.add_ua(config(*A, registrar=REG), 1)
    reg = Registrar(public=("203.0.113.5", 40000))
    net.stubs[REG] = reg
    ua.register(0.0)
    net.run(0.1)
    assert net.events[A] == [Registered(60)]
    assert reg.accepted[-1] == "<sip:fax@203.0.113.5:40000>;expires=3600"
    assert ua.core.contact().uri.host == "203.0.113.5"


def test_crlf_keepalives_to_the_trunk() -> None:
    net, _ua, _reg = registered(keepalive_interval=25.0)
    net.run(80)
    assert [t for t, s, d, data in net.wire if data == b"\r\n\r\n"] == [25.0, 50.0, 75.0]


def test_options_keepalive() -> None:
    net, _ua, _reg = registered(keepalive_interval=25.0, keepalive_options=True)
    net.run(30)
    assert len(net.sent(A, "OPTIONS")) == 1


def request(method: str, extra: str = "", tag: str = "") -> bytes:
    return (f"{method} sip:fax@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.7:5070;branch=z9hG4bK{method}\r\n"
            f"From: <sip:x@10.0.0.7>;tag=f1\r\nTo: <sip:fax@10.0.0.1>{tag}\r\nCall-ID: c-{method}@x\r\n"
            f"CSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n").encode()


def answers(method: str, extra: str = "", tag: str = "") -> SipResponse:
    ua = UserAgent(config(*A), __import__("random").Random(3))
    ua.receive(request(method, extra, tag), ("10.0.0.7", 5070), 0.0)
    out = ua.take_outgoing()
    assert len(out) == 1 and out[0][1] == ("10.0.0.7", 5070)
    msg = parse_message(out[0][0])
    assert isinstance(msg, SipResponse)
    return msg


def test_what_the_ua_answers_to_requests_it_does_not_take() -> None:
    options = answers("OPTIONS")
    assert options.status == 200 and "INVITE" in (options.headers.get("Allow") or "")
    assert answers("SUBSCRIBE").status == 405 and answers("SUBSCRIBE").headers.get("Allow")
    assert answers("FROBNICATE").status == 501
    assert answers("BYE").status == 481
    assert answers("BYE", tag=";tag=nope").status == 481
    assert answers("INVITE", "Require: 100rel\r\n").status == 420
    assert answers("INVITE", "Session-Expires: 30\r\n").headers.get("Min-SE") == "90"
    assert answers("INVITE", "Max-Forwards: 0\r\n".replace("Max", "X-Max")).status == 100


def test_malformed_request_gets_400_and_bad_response_is_dropped() -> None:
    ua = UserAgent(config(*A), __import__("random").Random(3))
    bad = request("INVITE").replace(b"CSeq: 1 INVITE", b"CSeq: 1 OPTIONS")
    ua.receive(bad, ("10.0.0.7", 5070), 0.0)
    out = ua.take_outgoing()
    resp = parse_message(out[0][0])
    assert isinstance(resp, SipResponse) and resp.status == 400 and "CSeq method" in resp.reason
    for junk in (b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n", b"\x00\x01garbage", b"SIP/2.0 200 OK\r\n\r\n",
                 request("ACK").replace(b"Via", b"Vai")):
        ua.receive(junk, ("10.0.0.7", 5070), 0.0)
        assert ua.take_outgoing() == [] and ua.take_events() == []
    # a stray response for no transaction is dropped too
    ua.receive(b"SIP/2.0 200 OK\r\n" + request("BYE").split(b"\r\n", 1)[1], ("10.0.0.7", 5070), 0.0)
    assert ua.take_outgoing() == []


def test_tcp_never_retransmits_and_contact_says_tcp() -> None:
    net = Net()
    ua = net.add_ua(config(*A, registrar=REG, transport="tcp"), 1)
    ua.register(0.0)
    net.run(31)
    regs = [parse_message(d) for d in net.sent(A, "REGISTER")]
    assert len(regs) == 1 and isinstance(regs[0], SipRequest)
    assert regs[0].via().transport == "TCP" and "transport=tcp" in (regs[0].headers.get("Contact") or "")
    net.run(33)
    assert net.events[A] == [RegistrationFailed(408, "Request Timeout")]


def test_configured_public_address_and_call_proxy() -> None:
    net = Net()
    proxy = ("10.0.0.8", 5060)
    ua = net.add_ua(config(*A, registrar=REG, proxy=proxy, public_address=("198.51.100.7", 5099)), 1)
    net.stubs[REG] = Registrar(public=("203.0.113.5", 40000))  # ignored: the configured one wins
    ua.register(0.0)
    net.run(0.1)
    reg = parse_message(net.sent(A, "REGISTER")[-1])
    assert reg.headers.get("Contact") == "<sip:fax@198.51.100.7:5099>;expires=3600"
    assert reg.via().host == "198.51.100.7" and reg.via().port == 5099
    ua.invite("+15550100", b"", net.now)
    net.settle()
    invite = [(dest, d) for _, s, dest, d in net.wire if d.startswith(b"INVITE")]
    assert invite[0][0] == proxy
    assert invite[0][1].startswith(b"INVITE sip:+15550100@trunk.test;user=phone SIP/2.0")


def test_an_unusable_challenge_is_a_failure_not_a_crash() -> None:
    net = Net()
    ua = net.add_ua(config(*A, registrar=REG), 1)

    def broken(data: bytes, source: tuple[str, int], now: float) -> list[tuple[bytes, tuple[str, int]]]:
        msg = parse_message(data)
        assert isinstance(msg, SipRequest)
        from modem.sip.message import make_response

        resp = make_response(msg, 401, to_tag="r")
        resp.headers.add("WWW-Authenticate", "Digest qop=auth")
        return [(resp.serialize(), source)]

    net.stubs[REG] = broken
    ua.register(0.0)
    net.run(0.1)
    assert net.events[A] == [RegistrationFailed(401, "Unauthorized")]
