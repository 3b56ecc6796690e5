"""Blind transfer (REFER, RFC 3515): our REFER in a call, the far end's 202 and NOTIFYs
(scripted here from the REFER that reached it), the events, the answers to NOTIFYs, and
a REFER from the far end (refused: we are never transferred)."""

from __future__ import annotations

import logging
import random

import pytest

from modem.sip.errors import SipParseError, SipUsageError
from modem.sip.events import CallEnded, TransferAccepted, TransferEnded, UAEvent
from modem.sip.message import SipRequest, SipResponse, make_response, parse_message
from modem.sip.refer import TRANSFER_TRANSITIONS, TransferState, parse_sipfrag
from modem.sip.ua import UserAgent
from tests.modem.sip.test_ua_robust import mutate
from tests.modem.sip.ua_harness import Net, RecordRouteProxy, config, sdp

A = ("10.0.0.1", 5060)  # umfax: answers the call, then transfers the caller
B = ("10.0.0.2", 5062)  # the caller (the far end), scripted for REFER/NOTIFY
TARGET = "sip:reception@pbx.example"


class Transferee:
    """Takes the REFERs addressed to B off the wire (B's UA would answer 405) so a test can
    answer them and send NOTIFYs in B's dialog, as a real transferee would."""

    def __init__(self, net: Net, *, take: bool = True) -> None:
        self.net = net
        self.refers: list[SipRequest] = []
        self.answers: list[SipResponse] = []  # A's responses to our NOTIFYs
        self.seq = 100
        self.take = take

        def drop(data: bytes, source: tuple[str, int], dest: tuple[str, int]) -> bool:
            if dest != B:
                return False
            try:
                msg = parse_message(data)
            except SipParseError:
                return False  # (a 400 answering a garbled message)
            if isinstance(msg, SipRequest) and msg.method == "REFER":
                self.refers.append(msg)
                return self.take
            if isinstance(msg, SipResponse) and msg.cseq().method == "NOTIFY":
                self.answers.append(msg)
                return True
            return False

        net.drop = drop

    @property
    def refer(self) -> SipRequest:
        return self.refers[-1]

    def respond(self, status: int, reason: str | None = None) -> None:
        self.net.deliver(make_response(self.refer, status, reason).serialize(), B, A)
        self.net.settle()

    def notify(self, sipfrag: str, state: str = "active;expires=60", event: str | None = None,
               to_tag: str | None = None) -> SipResponse:
        refer = self.refer
        self.seq += 1
        frm, to = refer.to(), refer.from_()  # B's side of the dialog, then A's
        if to_tag is not None:
            to.params["tag"] = to_tag
        event = event if event is not None else f"refer;id={refer.cseq().seq}"
        body = sipfrag.encode()
        text = (f"NOTIFY {refer.contacts()[0].uri} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bKnotify{self.seq}\r\n"
                f"Max-Forwards: 70\r\nFrom: {frm}\r\nTo: {to}\r\nCall-ID: {refer.call_id()}\r\n"
                f"CSeq: {self.seq} NOTIFY\r\nEvent: {event}\r\nSubscription-State: {state}\r\n"
                f"Content-Type: message/sipfrag;version=2.0\r\nContent-Length: {len(body)}\r\n\r\n")
        self.net.deliver(text.encode() + body, B, A)
        self.net.settle()
        return self.answers[-1]


def called(**kw: object) -> tuple[Net, UserAgent, UserAgent, str]:
    """B calls A, A answers; the call is confirmed (ACK in)."""
    net = Net()
    a = net.add_ua(config(*A, **kw), 1)
    b = net.add_ua(config(*B, **kw), 2)
    cid = b.invite("sip:fax@10.0.0.1:5060", sdp(1), 0.0)
    net.run(0.01)
    a.answer(cid, sdp(1), net.now)
    net.run(0.02)
    return net, a, b, cid


def transfer_events(events: list[UAEvent]) -> list[UAEvent]:
    return [e for e in events if isinstance(e, (TransferAccepted, TransferEnded))]


def test_blind_transfer_accepted_then_done() -> None:
    net, a, _b, cid = called()
    far = Transferee(net)
    a.refer(cid, TARGET, net.now)
    net.settle()
    refer = far.refer
    assert refer.uri.host == "10.0.0.2" and refer.call_id() == cid
    assert refer.headers.get("Refer-To") == f"<{TARGET}>"
    assert refer.headers.get("Referred-By") == "<sip:fax@10.0.0.1:5060>"  # the To of the call we took
    assert refer.headers.get("Contact") and refer.cseq().method == "REFER"
    far.respond(202)
    assert transfer_events(net.events[A]) == [TransferAccepted(cid)]
    ok = far.notify("SIP/2.0 100 Trying\r\n")
    assert ok.status == 200
    assert transfer_events(net.events[A]) == [TransferAccepted(cid)]
    ok = far.notify("SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n", state="terminated;reason=noresource")
    assert ok.status == 200 and ok.to().tag == refer.from_().tag
    assert transfer_events(net.events[A]) == [TransferAccepted(cid), TransferEnded(cid, True, 200, "OK")]
    a.hangup(cid, net.now)  # the transfer done, we leave the call
    net.run(net.now + 1)
    assert net.events[A][-1] == CallEnded(cid, "hangup", False)
    net.run(net.now + 60)
    assert a.next_deadline() is None and not a.transfers.transfers


def test_target_refuses_the_call() -> None:
    net, a, _b, cid = called()
    far = Transferee(net)
    a.refer(cid, "2001", net.now)  # a number at the trunk's domain
    net.settle()
    assert far.refer.headers.get("Refer-To") == "<sip:2001@trunk.test>"
    far.respond(202)
    far.notify("SIP/2.0 100 Trying")
    assert far.notify("SIP/2.0 486 Busy Here", state="terminated").status == 200
    assert transfer_events(net.events[A]) == [TransferAccepted(cid),
                                              TransferEnded(cid, False, 486, "Busy Here")]
    assert a.calls.get(cid).state.value == "confirmed"  # a failed transfer leaves the call up


def test_refer_refused_by_the_far_end() -> None:
    net, a, _b, cid = called()
    far = Transferee(net)
    a.refer(cid, TARGET, net.now)
    net.settle()
    far.respond(603)
    assert transfer_events(net.events[A]) == [TransferEnded(cid, False, 603, "REFER refused (Decline)")]
    assert not a.transfers.transfers
    a.refer(cid, TARGET, net.now)  # a second try is allowed once the first ended
    net.settle()
    assert len(far.refers) == 2 and far.refers[1].cseq().seq > far.refers[0].cseq().seq


def test_refer_answered_by_a_plain_ua_is_refused_405() -> None:
    """B's own UserAgent (no REFER support) gets the REFER: 405, and the transfer failed."""
    net, a, _b, cid = called()
    far = Transferee(net, take=False)
    a.refer(cid, TARGET, net.now)
    net.run(net.now + 1)
    assert far.refers
    ended = transfer_events(net.events[A])
    assert len(ended) == 1 and isinstance(ended[0], TransferEnded) and ended[0].code == 405
    answer = parse_message(net.sent(B, "SIP/2.0 405")[0])
    assert isinstance(answer, SipResponse) and "REFER" not in (answer.headers.get("Allow") or "")


def test_refer_unanswered_times_out() -> None:
    net, a, _b, cid = called()
    Transferee(net)
    a.refer(cid, TARGET, net.now, timeout=60.0)
    net.run(net.now + 40)  # Timer F (64*T1 = 32 s) ends the REFER transaction
    assert transfer_events(net.events[A]) == [
        TransferEnded(cid, False, 408, "no answer to the REFER")]
    assert net.events[A][-1] == CallEnded(cid, "timeout", False)  # 408 in dialog: the dialog is gone


def test_no_final_notify_before_the_deadline() -> None:
    net, a, _b, cid = called()
    far = Transferee(net)
    start = net.now
    a.refer(cid, TARGET, start, timeout=10.0)
    net.settle()
    far.respond(202)
    far.notify("SIP/2.0 180 Ringing")
    assert a.next_deadline() is not None
    net.run(start + 9.9)
    assert transfer_events(net.events[A]) == [TransferAccepted(cid)]
    net.run(start + 10.1)
    ended = TransferEnded(cid, False, 408, "no final NOTIFY for the transfer")
    assert transfer_events(net.events[A])[-1] == ended
    assert far.notify("SIP/2.0 200 OK").status == 481  # too late: the subscription is gone


def test_notify_before_the_202_and_a_bye_before_the_last_notify() -> None:
    net, a, b, cid = called()
    far = Transferee(net)
    a.refer(cid, TARGET, net.now)
    net.settle()
    assert far.notify("SIP/2.0 100 Trying").status == 200  # overtook the 202
    far.respond(202)
    assert transfer_events(net.events[A]) == [TransferAccepted(cid)]
    b.hangup(cid, net.now)  # the transferee leaves us, then reports the target's answer
    net.settle()
    assert net.events[A][-1] == CallEnded(cid, "bye", True)
    assert far.notify("SIP/2.0 200 OK", state="terminated").status == 200
    assert transfer_events(net.events[A])[-1] == TransferEnded(cid, True, 200, "OK")


def test_subscription_terminated_without_a_final_status() -> None:
    net, a, _b, cid = called()
    far = Transferee(net)
    a.refer(cid, TARGET, net.now)
    net.settle()
    far.respond(202)
    far.notify("SIP/2.0 100 Trying", state="terminated;reason=timeout")
    assert transfer_events(net.events[A])[-1] == TransferEnded(
        cid, False, 487, "subscription terminated before a final status (timeout, last 100 Trying)")


@pytest.mark.parametrize(("event", "tag", "code"), [
    ("refer;id=999", None, 481),  # not our REFER's CSeq
    ("presence", None, 481),  # another package
    ("refer", "someone-else", 481),  # not our dialog
])
def test_notify_for_an_unknown_subscription(event: str, tag: str | None, code: int) -> None:
    net, a, _b, cid = called()
    far = Transferee(net)
    a.refer(cid, TARGET, net.now)
    net.settle()
    far.respond(202)
    assert far.notify("SIP/2.0 200 OK", event=event, to_tag=tag).status == code
    assert transfer_events(net.events[A]) == [TransferAccepted(cid)]  # nothing ended


def test_notify_without_any_transfer_is_481_and_bad_sipfrag_400() -> None:
    net, a, _b, cid = called()
    far = Transferee(net)
    a.refer(cid, TARGET, net.now)
    net.settle()
    far.respond(603)  # that transfer is over: a NOTIFY now has no subscription
    assert far.notify("SIP/2.0 200 OK", event="refer").status == 481
    a.refer(cid, TARGET, net.now)
    net.settle()
    far.respond(202)
    assert far.notify("garbage").status == 400
    assert far.notify("SIP/2.0 200 OK").status == 200


def test_notify_with_an_old_cseq_is_refused() -> None:
    net, a, _b, cid = called()
    far = Transferee(net)
    a.refer(cid, TARGET, net.now)
    net.settle()
    far.respond(202)
    far.notify("SIP/2.0 100 Trying")
    far.seq -= 2
    assert far.notify("SIP/2.0 200 OK").status == 500


def test_refer_only_in_an_established_call_and_one_at_a_time() -> None:
    net = Net()
    a = net.add_ua(config(*A), 1)
    b = net.add_ua(config(*B), 2)
    cid = b.invite("sip:fax@10.0.0.1:5060", sdp(1), 0.0)
    net.run(0.01)
    with pytest.raises(SipUsageError):
        a.refer(cid, TARGET, net.now)  # still ringing
    a.answer(cid, sdp(1), net.now)
    net.run(0.02)
    Transferee(net)
    a.refer(cid, TARGET, net.now)
    with pytest.raises(SipUsageError):
        a.refer(cid, TARGET, net.now)
    with pytest.raises(SipUsageError):
        a.refer("no-such-call", TARGET, net.now)


def test_their_refer_is_refused_405_in_and_out_of_a_dialog() -> None:
    net, a, b, cid = called()
    call = b.calls.get(cid)
    refer = b.calls.dialog_request(call, "REFER")
    refer.headers.add("Refer-To", "<sip:elsewhere@10.9.9.9>")
    net.deliver(refer.serialize(), B, A)
    net.settle()
    answer = parse_message(net.sent(A, "SIP/2.0 405")[-1])
    assert isinstance(answer, SipResponse) and answer.cseq().method == "REFER"
    assert "REFER" not in (answer.headers.get("Allow") or "")
    assert a.calls.get(cid).state.value == "confirmed"
    outside = SipRequest(refer.headers.copy(), b"", method="REFER", uri=refer.uri)
    outside.headers.set("To", "<sip:fax@10.0.0.1:5060>")
    outside.headers.set("Call-ID", "other-call")
    net.deliver(outside.serialize(), B, A)
    net.settle()
    assert len(net.sent(A, "SIP/2.0 405")) == 2


def test_sipfrag_and_the_table() -> None:
    assert parse_sipfrag(b"SIP/2.0 100 Trying\r\n") == (100, "Trying")
    assert parse_sipfrag(b"\r\nSIP/2.0 603 Decline\r\nCSeq: 1 INVITE\r\n") == (603, "Decline")
    assert parse_sipfrag(b"SIP/2.0 200") == (200, "")
    assert parse_sipfrag(b"INVITE sip:x SIP/2.0") is None and parse_sipfrag(b"") is None
    # every transfer ends exactly once: no move leaves DONE, and every way into DONE ends it
    assert all(state is not TransferState.DONE for state, _ in TRANSFER_TRANSITIONS)
    assert all(ended for (nxt, _, ended) in TRANSFER_TRANSITIONS.values() if nxt is TransferState.DONE)


def test_mutated_refer_traffic_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    """Garbled 202s, NOTIFYs and sipfrags thrown at the transferring UA: nothing raises, and
    the transfer still ends once (its deadline at the latest)."""
    caplog.set_level(logging.CRITICAL, logger="modem.sip")
    net, a, _b, cid = called()
    far = Transferee(net)
    a.refer(cid, TARGET, net.now, timeout=20.0)
    net.settle()
    far.respond(202)
    far.notify("SIP/2.0 100 Trying")
    corpus = [d for _, _, _, d in net.wire if d[:6] in (b"REFER ", b"NOTIFY", b"SIP/2.")]
    rng = random.Random(3)
    for _ in range(800):
        a.receive(mutate(rng, corpus), B, net.now)
        net.now += 0.01
        net.settle()
        a.on_timer(net.now)
    net.run(net.now + 30)
    ended = [e for e in net.events[A] if isinstance(e, TransferEnded)]
    assert len(ended) <= 1 and not a.transfers.transfers


def test_refer_follows_the_route_set_of_a_record_routing_proxy() -> None:
    proxy = ("10.0.0.9", 5060)
    net = Net()
    a = net.add_ua(config(*A, proxy=proxy), 1)
    b = net.add_ua(config(*B), 2)
    rr = RecordRouteProxy(proxy, {"fax2": B})
    net.stubs[proxy] = rr
    cid = a.invite("fax2", sdp(1), 0.0)
    net.run(0.1)
    b.answer(cid, sdp(1), net.now)
    net.run(0.2)
    a.refer(cid, TARGET, net.now)
    net.run(1.0)
    assert rr.seen == ["INVITE", "ACK", "REFER"]
    refer = parse_message(net.sent(A, "REFER")[0])
    assert isinstance(refer, SipRequest) and refer.headers.get_all("Route") == ["<sip:10.0.0.9:5060;lr>"]
    assert next(w[2] for w in net.wire if w[3].startswith(b"REFER")) == proxy
    ended = transfer_events(net.events[A])  # B's plain UA: 405 back through the proxy
    assert len(ended) == 1 and isinstance(ended[0], TransferEnded) and ended[0].code == 405
