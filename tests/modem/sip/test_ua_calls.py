"""Two UserAgents wired to each other in memory: calls, re-INVITE both ways, glare, CANCEL, BYE,
session refresh, a record-routing proxy in the path."""

from __future__ import annotations

import pytest

from modem.sip.errors import SipUsageError
from modem.sip.events import (
    CallAnswered,
    CallEnded,
    CallFailed,
    CallProgress,
    IncomingCall,
    ReInviteAccepted,
    ReInviteReceived,
    ReInviteRejected,
    UAEvent,
)
from modem.sip.message import SipRequest, SipResponse, parse_message
from modem.sip.ua import UserAgent
from tests.modem.sip.ua_harness import Net, RecordRouteProxy, config, sdp

A = ("10.0.0.1", 5060)
B = ("10.0.0.2", 5062)


def kinds(events: list[UAEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def pair(**kw: object) -> tuple[Net, UserAgent, UserAgent]:
    net = Net()
    a = net.add_ua(config(*A, **kw), 1)
    b = net.add_ua(config(*B, **kw), 2)
    return net, a, b


def connect(net: Net, a: UserAgent, b: UserAgent) -> str:
    cid = a.invite("sip:fax@10.0.0.2:5062", sdp(1), net.now)
    net.run(net.now + 0.01)
    b.ringing(cid, net.now)
    net.run(net.now + 0.01)
    b.answer(cid, sdp(1), net.now)
    net.run(net.now + 0.01)
    return cid


def test_call_answer_and_bye_from_the_caller() -> None:
    net, a, b = pair()
    cid = a.invite("sip:fax@10.0.0.2:5062", sdp(1), 0.0, caller_id="+15550001")
    net.run(0.01)
    incoming = net.events[B][0]
    assert isinstance(incoming, IncomingCall)
    assert incoming.source == A and incoming.sdp == sdp(1) and incoming.from_uri == "sip:+15550001@trunk.test"
    assert net.sent(B, "SIP/2.0 100") and not net.events[A]  # 100 at once, no event for it
    b.ringing(cid, net.now)
    net.run(0.02)
    assert net.events[A] == [CallProgress(cid, 180)]
    b.answer(cid, sdp(7), net.now)
    net.run(0.03)
    assert net.events[A][-1] == CallAnswered(cid, sdp(7))
    assert len(net.sent(A, "ACK")) == 1
    a.hangup(cid, net.now)
    net.run(1.0)
    assert net.events[A][-1] == CallEnded(cid, "hangup", False)
    assert net.events[B][-1] == CallEnded(cid, "bye", True)
    net.run(60.0)  # everything settles and is forgotten
    assert a.next_deadline() is None and b.next_deadline() is None
    assert not a.calls.calls and not b.calls.calls


def test_bye_from_the_callee_and_reject() -> None:
    net, a, b = pair()
    cid = connect(net, a, b)
    b.hangup(cid, net.now)
    net.run(net.now + 1)
    assert net.events[A][-1] == CallEnded(cid, "bye", True)
    cid2 = a.invite("sip:fax@10.0.0.2:5062", sdp(1), net.now)
    net.run(net.now + 0.01)
    b.reject(cid2, 486, None, net.now)
    net.run(net.now + 1)
    assert net.events[A][-1] == CallFailed(cid2, 486, "Busy Here")
    assert net.events[B][-1] == CallEnded(cid2, "rejected", False)
    assert len(net.sent(A, "ACK")) == 2  # one for the call, one for the 486 (by the transaction)


def test_cancel_of_our_ringing_call_gets_487() -> None:
    net, a, b = pair()
    cid = a.invite("sip:fax@10.0.0.2:5062", sdp(1), 0.0)
    net.run(0.01)
    b.ringing(cid, net.now)
    net.run(0.02)
    a.hangup(cid, net.now)
    net.run(1.0)
    assert net.sent(A, "CANCEL") and net.sent(B, "SIP/2.0 487")
    assert net.events[A][-1] == CallEnded(cid, "cancelled", False)
    assert net.events[B][-1] == CallEnded(cid, "cancelled", True)
    with pytest.raises(SipUsageError):
        b.answer(cid, sdp(1), net.now)


def test_cancel_waits_for_a_provisional_response() -> None:
    net, a, _b = pair()
    held: list[bytes] = []

    def hold_b(data: bytes, source: tuple[str, int], dest: tuple[str, int]) -> bool:
        if source == B and not held:
            held.append(data)  # the 100 Trying is late
            return True
        return False

    net.drop = hold_b
    cid = a.invite("sip:fax@10.0.0.2:5062", sdp(1), 0.0)
    net.run(0.01)
    a.hangup(cid, net.now)
    net.run(0.02)
    assert not net.sent(A, "CANCEL")  # RFC 3261 9.1: not before a provisional response
    net.drop = None
    net.deliver(held[0], B, A)
    net.run(1.0)
    assert net.sent(A, "CANCEL")
    assert net.events[A][-1] == CallEnded(cid, "cancelled", False)
    assert net.events[B][-1] == CallEnded(cid, "cancelled", True)


def test_reinvite_both_ways() -> None:
    net, a, b = pair()
    cid = connect(net, a, b)
    a.reinvite(cid, sdp(2, "image"), net.now)  # e.g. the switch to T.38
    net.run(net.now + 0.1)
    assert net.events[B][-1] == ReInviteReceived(cid, sdp(2, "image"))
    b.accept_reinvite(cid, sdp(2, "image"), net.now)
    net.run(net.now + 0.1)
    assert net.events[A][-1] == ReInviteAccepted(cid, sdp(2, "image"))
    assert b.local_sdp(cid) == sdp(2, "image") and a.local_sdp(cid) == sdp(2, "image")
    b.reinvite(cid, sdp(3, "image"), net.now)
    net.run(net.now + 0.1)
    assert net.events[A][-1] == ReInviteReceived(cid, sdp(3, "image"))
    a.reject_reinvite(cid, 488, net.now)
    net.run(net.now + 0.1)
    assert net.events[B][-1] == ReInviteRejected(cid, 488)
    assert b.local_sdp(cid) == sdp(2, "image")  # unchanged by the refused offer
    a.hangup(cid, net.now)
    net.run(net.now + 40)
    assert a.next_deadline() is None and b.next_deadline() is None


def test_glare_491_then_retry_by_rfc_timers() -> None:
    net, a, b = pair()

    def accept(n: Net, addr: tuple[str, int], event: UAEvent) -> None:
        if isinstance(event, ReInviteReceived):
            n.uas[addr].accept_reinvite(event.call_id, event.sdp, n.now)

    net.on_event = accept
    cid = connect(net, a, b)
    start = net.now
    a.reinvite(cid, sdp(2, "image"), net.now)
    b.reinvite(cid, sdp(2, "image"), net.now)
    outs = a.take_outgoing(), b.take_outgoing()  # both offers cross on the wire
    for data, dest in outs[0]:
        net.deliver(data, A, dest)
    for data, dest in outs[1]:
        net.deliver(data, B, dest)
    net.settle()
    assert len(net.sent(start="SIP/2.0 491")) == 2
    net.run(start + 10)
    invites = [(t, s) for t, s, _, d in net.wire if t >= start and d.startswith(b"INVITE")]
    retry_b = next(t for t, s in invites[2:] if s == B)
    retry_a = next(t for t, s in invites[2:] if s == A)
    assert start <= retry_b <= start + 2.0  # B does not own the Call-ID: 0 to 2 s
    assert start + 2.1 <= retry_a <= start + 4.0  # A owns it: 2.1 to 4 s
    assert kinds(net.events[A]).count("ReInviteAccepted") == 1
    assert kinds(net.events[B]).count("ReInviteAccepted") == 1


def test_glare_loser_withdraws_its_retry_after_taking_theirs() -> None:
    """After glare B (not owning the Call-ID) retries first; A accepts B's offer and
    withdraws its own waiting retry: no third INVITE from A renegotiates the call."""
    net, a, b = pair()
    withdrawn: list[bool] = []

    def accept(n: Net, addr: tuple[str, int], event: UAEvent) -> None:
        if isinstance(event, ReInviteReceived):
            ua = n.uas[addr]
            ua.accept_reinvite(event.call_id, event.sdp, n.now)
            if addr == A:
                withdrawn.append(ua.withdraw_reinvite(event.call_id))

    net.on_event = accept
    cid = connect(net, a, b)
    start = net.now
    a.reinvite(cid, sdp(2, "image"), net.now)
    b.reinvite(cid, sdp(2, "image"), net.now)
    outs = a.take_outgoing(), b.take_outgoing()
    for data, dest in outs[0]:
        net.deliver(data, A, dest)
    for data, dest in outs[1]:
        net.deliver(data, B, dest)
    net.settle()
    net.run(start + 10)
    invites = [s for t, s, _, d in net.wire if t >= start and d.startswith(b"INVITE")]
    assert invites.count(A) == 1 and invites.count(B) == 2
    assert withdrawn == [True]
    assert kinds(net.events[B]).count("ReInviteAccepted") == 1
    assert "ReInviteAccepted" not in kinds(net.events[A])
    assert a.withdraw_reinvite(cid) is False  # nothing left to withdraw


def test_session_refresh_mid_call_keeps_the_current_sdp() -> None:
    net, a, b = pair(session_expires=120)
    cid = connect(net, a, b)
    ok = parse_message(net.sent(B, "SIP/2.0 200")[0])
    assert ok.headers.get("Session-Expires") == "120;refresher=uac" and ok.headers.get("Require") == "timer"
    a.reinvite(cid, sdp(2, "image"), net.now)  # T.38 now
    net.run(net.now + 0.1)
    b.accept_reinvite(cid, sdp(5, "image"), net.now)
    net.run(net.now + 0.1)
    seen_b, seen_a = len(net.events[B]), len(net.events[A])
    # A is the refresher: half-way it refreshes with UPDATE (B allows it), no SDP
    net.run(net.now + 61)
    update = [parse_message(d) for d in net.sent(A, "UPDATE")]
    assert len(update) == 1 and update[0].body == b""
    # without UPDATE, a re-INVITE repeating A's current SDP; B answers with ITS current SDP
    a.calls.get(cid).remote_allow.discard("update")
    net.run(net.now + 61)
    refresh = [m for m in map(parse_message, net.sent(A, "INVITE")) if m.cseq().seq > 2]
    assert refresh and refresh[-1].body == sdp(2, "image")
    answer = [m for m in map(parse_message, net.sent(B, "SIP/2.0 200"))
              if m.cseq().method == "INVITE"][-1]
    assert answer.body == sdp(5, "image") and answer.headers.get("Session-Expires") == "120;refresher=uac"
    assert len(net.events[B]) == seen_b and len(net.events[A]) == seen_a  # nobody was asked anything
    assert b.local_sdp(cid) == sdp(5, "image")


def test_their_refresh_reinvite_is_answered_by_the_ua_with_the_current_sdp() -> None:
    net, a, b = pair(session_expires=120)
    cid = connect(net, a, b)
    b.reinvite(cid, sdp(2, "image"), net.now)
    net.run(net.now + 0.1)
    a.accept_reinvite(cid, sdp(9, "image"), net.now)
    net.run(net.now + 0.1)
    before = len(net.events[A])
    # B repeats its current offer (same o= line), as a refresh from a gateway would
    b.calls.get(cid).remote_allow.discard("update")
    b.calls.get(cid).refresher_is_us = True
    b.calls.get(cid).session_deadline = net.now
    net.run(net.now + 0.1)
    answer = [m for m in map(parse_message, net.sent(A, "SIP/2.0 200")) if m.cseq().method == "INVITE"][-1]
    assert answer.body == sdp(9, "image")
    assert len(net.events[A]) == before


def test_non_refresher_ends_an_expired_session() -> None:
    net, a, b = pair(session_expires=120)
    cid = connect(net, a, b)
    a.calls.get(cid).session_deadline = None  # A (the refresher) goes silent
    net.run(net.now + 100)
    assert net.events[B][-1] == CallEnded(cid, "session expired", False)
    assert net.events[A][-1] == CallEnded(cid, "bye", True)


def test_422_raises_the_session_interval() -> None:
    net = Net()
    a = net.add_ua(config(*A, session_expires=100, min_se=90), 1)
    b = net.add_ua(config(*B, min_se=300), 2)
    cid = a.invite("sip:fax@10.0.0.2:5062", sdp(1), 0.0)
    net.run(0.1)
    b.answer(cid, sdp(1), net.now)
    net.run(0.2)
    assert net.sent(B, "SIP/2.0 422")
    assert isinstance(net.events[A][-1], CallAnswered)
    assert a.calls.get(cid).session_interval == 300


def test_no_ack_ends_the_call_with_bye() -> None:
    net, a, b = pair()
    net.drop = lambda data, s, d: data.startswith(b"ACK")
    cid = a.invite("sip:fax@10.0.0.2:5062", sdp(1), 0.0)
    net.run(0.1)
    b.answer(cid, sdp(1), net.now)
    net.run(40)
    assert len(net.sent(B, "SIP/2.0 200")) >= 7  # 2xx retransmitted T1, 2T1, ... up to T2
    assert net.events[B][-1] == CallEnded(cid, "no ack", False)


def test_call_through_a_record_routing_proxy() -> None:
    net = Net()
    proxy = ("10.0.0.9", 5060)
    a = net.add_ua(config(*A, outbound_proxy=None, registrar=proxy), 1)
    b = net.add_ua(config(*B), 2)
    rr = RecordRouteProxy(proxy, {"fax2": B})
    net.stubs[proxy] = rr
    cid = a.invite("fax2", sdp(1), 0.0)
    net.run(0.1)
    b.answer(cid, sdp(1), net.now)
    net.run(0.2)
    assert isinstance(net.events[A][-1], CallAnswered)
    a.reinvite(cid, sdp(2, "image"), net.now)
    net.run(0.3)
    b.accept_reinvite(cid, sdp(2, "image"), net.now)
    net.run(0.4)
    b.hangup(cid, net.now)
    net.run(2)
    assert rr.seen == ["INVITE", "ACK", "INVITE", "ACK", "BYE"]
    bye = parse_message(net.sent(B, "BYE")[0])
    assert isinstance(bye, SipRequest) and bye.headers.get_all("Route") == ["<sip:10.0.0.9:5060;lr>"]
    assert net.events[A][-1] == CallEnded(cid, "bye", True)


def test_our_invite_challenged_by_a_proxy_407() -> None:
    net = Net()
    proxy = ("10.0.0.9", 5060)
    a = net.add_ua(config(*A, outbound_proxy=proxy), 1)

    def auth_proxy(data: bytes, source: tuple[str, int], now: float) -> list[tuple[bytes, tuple[str, int]]]:
        msg = parse_message(data)
        from modem.sip.message import make_response

        if isinstance(msg, SipRequest) and msg.method == "INVITE":
            if msg.headers.get("Proxy-Authorization") is None:
                resp = make_response(msg, 407, to_tag="p")
                resp.headers.add("Proxy-Authenticate", 'Digest realm="trunk.test", nonce="x1", qop="auth"')
            else:
                resp = make_response(msg, 403, to_tag="p")
            return [(resp.serialize(), source)]
        return []

    net.stubs[proxy] = auth_proxy
    cid = a.invite("123", sdp(1), 0.0)
    net.run(1)
    invites = [parse_message(d) for d in net.sent(A, "INVITE")]
    assert [m.cseq().seq for m in invites] == [1, 2]
    assert invites[1].headers.get("Proxy-Authorization", ).startswith("Digest ")  # type: ignore[union-attr]
    assert invites[0].headers.get_all("Route") == ["<sip:10.0.0.9:5060;lr>"]
    assert net.events[A] == [CallFailed(cid, 403, "Forbidden")]
    assert isinstance(parse_message(net.sent(A, "ACK")[0]), SipRequest)
    assert all(isinstance(parse_message(d), SipResponse) for d in net.sent(proxy))


def test_retransmitted_reinvite_gets_the_same_2xx_not_a_500() -> None:
    net, a, b = pair()
    cid = connect(net, a, b)
    net.drop = lambda data, s, d: s == B and data.startswith(b"SIP/2.0 200")  # B's 200s are lost
    a.reinvite(cid, sdp(2, "image"), net.now)
    net.run(net.now + 0.1)
    b.accept_reinvite(cid, sdp(2, "image"), net.now)
    net.run(net.now + 1.0)
    net.drop = None
    net.run(net.now + 5.0)
    assert not net.sent(B, "SIP/2.0 500")
    assert net.events[A][-1] == ReInviteAccepted(cid, sdp(2, "image"))
    assert b.next_deadline() is None or b.calls.get(cid).pending_2xx is None


def test_malformed_invite_is_refused_400_and_leaves_nothing_behind() -> None:
    _net, a, b = pair()
    a.invite("sip:fax@10.0.0.2:5062", sdp(1), 0.0)
    raw = a.take_outgoing()[0][0].replace(b"Contact: <sip:fax@10.0.0.1:5060>", b"Contact: <sip:fax@>")
    b.receive(raw, A, 0.0)
    out = b.take_outgoing()
    assert len(out) == 1 and out[0][0].startswith(b"SIP/2.0 400 Bad Request (bad host")
    assert b.take_events() == [] and not b.core.servers and not b.calls.calls
