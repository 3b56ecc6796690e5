"""RFC 3261 section 17 transactions with their timers as data."""

from __future__ import annotations

from modem.sip.message import SipRequest, make_response, parse_message
from modem.sip.transaction import (
    TRANSITIONS,
    Kind,
    PassUp,
    Send,
    State,
    TimedOut,
    Timer,
    Transaction,
)

DEST = ("192.0.2.5", 5060)


def request(method: str = "INVITE") -> SipRequest:
    raw = (f"{method} sip:bob@example.com SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKtx1;rport\r\n"
           "Route: <sip:proxy.example.com;lr>\r\n"
           "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n"
           f"Call-ID: tx@192.0.2.1\r\nCSeq: 4 {method}\r\nMax-Forwards: 70\r\n\r\n").encode()
    msg = parse_message(raw)
    assert isinstance(msg, SipRequest)
    return msg


def sends(actions: list[object]) -> int:
    return sum(isinstance(a, Send) for a in actions)


def run_until(tx: Transaction, end: float) -> list[tuple[float, object]]:
    out: list[tuple[float, object]] = []
    while (deadline := tx.next_deadline()) is not None and deadline <= end:
        out += [(deadline, a) for a in tx.on_timer(deadline)]
    return out


def test_invite_client_retransmits_with_doubling_then_timer_b() -> None:
    tx = Transaction(Kind.ICT, request(), DEST)
    assert sends(tx.start(0.0)) == 1 and tx.state is State.CALLING
    out = run_until(tx, 100.0)
    times = [t for t, a in out if isinstance(a, Send)]
    assert times == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # A doubles from T1, no cap
    assert isinstance(out[-1][1], TimedOut) and out[-1][1].timer is Timer.B and out[-1][0] == 32.0
    assert tx.terminated


def test_invite_client_acks_non_2xx_and_absorbs_retransmissions() -> None:
    req = request()
    tx = Transaction(Kind.ICT, req, DEST)
    tx.start(0.0)
    ringing = make_response(req, 180, to_tag="b1")
    assert tx.on_response(ringing, 0.2) == [PassUp(ringing)] and tx.state is State.PROCEEDING
    assert tx.next_deadline() is None  # A and B stop in Proceeding
    busy = make_response(req, 486, to_tag="b1")
    actions = tx.on_response(busy, 1.0)
    ack = parse_message(next(a for a in actions if isinstance(a, Send)).data)
    assert isinstance(ack, SipRequest) and ack.method == "ACK" and ack.cseq().seq == 4
    assert ack.to().tag == "b1" and ack.headers.get_all("Route") == req.headers.get_all("Route")
    assert ack.via().branch == "z9hG4bKtx1"
    assert tx.state is State.COMPLETED and tx.next_deadline() == 33.0  # Timer D, 32 s
    assert [type(a) for a in tx.on_response(busy, 2.0)] == [Send]  # ACK again, not passed up
    run_until(tx, 40.0)
    assert tx.terminated


def test_invite_client_2xx_terminates_for_the_dialog() -> None:
    req = request()
    tx = Transaction(Kind.ICT, req, DEST)
    tx.start(0.0)
    ok = make_response(req, 200, to_tag="b1")
    assert tx.on_response(ok, 0.1) == [PassUp(ok)] and tx.terminated


def test_non_invite_client_caps_e_at_t2_and_times_out_with_f() -> None:
    tx = Transaction(Kind.NICT, request("OPTIONS"), DEST)
    tx.start(0.0)
    out = run_until(tx, 40.0)
    times = [t for t, a in out if isinstance(a, Send)]
    assert times[:5] == [0.5, 1.5, 3.5, 7.5, 11.5]  # 0.5, 1, 2, 4, 4 ...
    assert isinstance(out[-1][1], TimedOut) and out[-1][1].timer is Timer.F


def test_non_invite_client_over_tcp_never_retransmits_and_k_is_zero() -> None:
    req = request("BYE")
    tx = Transaction(Kind.NICT, req, DEST, reliable=True)
    tx.start(0.0)
    assert tx.next_deadline() == 32.0  # only F
    tx.on_response(make_response(req, 200), 1.0)
    assert tx.next_deadline() == 1.0
    tx.on_timer(1.0)
    assert tx.terminated


def test_invite_server_retransmits_final_until_ack_then_confirmed() -> None:
    req = request()
    tx = Transaction(Kind.IST, req, DEST)
    tx.start(0.0)
    trying = make_response(req, 100)
    assert sends(tx.respond(trying, 0.0)) == 1
    assert sends(tx.on_request(req, 0.5)) == 1  # retransmitted INVITE: 100 again
    assert sends(tx.respond(make_response(req, 486, to_tag="x"), 1.0)) == 1
    out = run_until(tx, 5.0)
    assert [t for t, _ in out] == [1.5, 2.5, 4.5]  # G: T1, 2*T1, 4*T1 ...
    ack = request("ACK")
    assert tx.on_request(ack, 5.0) == [] and tx.state is State.CONFIRMED
    assert tx.next_deadline() == 10.0  # Timer I = T4
    tx.on_timer(10.0)
    assert tx.terminated


def test_invite_server_times_out_with_h_without_ack() -> None:
    req = request()
    tx = Transaction(Kind.IST, req, DEST)
    tx.start(0.0)
    tx.respond(make_response(req, 603, to_tag="x"), 0.0)
    out = run_until(tx, 60.0)
    assert isinstance(out[-1][1], TimedOut) and out[-1][1].timer is Timer.H and out[-1][0] == 32.0
    sent = [t for t, a in out if isinstance(a, Send)]
    assert sent[:5] == [0.5, 1.5, 3.5, 7.5, 11.5]  # G capped at T2


def test_non_invite_server_answers_retransmissions_from_its_last_response() -> None:
    req = request("BYE")
    tx = Transaction(Kind.NIST, req, DEST)
    tx.start(0.0)
    assert tx.on_request(req, 0.1) == []  # Trying: absorbed
    ok = make_response(req, 200)
    assert tx.respond(ok, 0.2) == [Send(ok.serialize(), DEST)]
    assert tx.on_request(req, 0.3) == [Send(ok.serialize(), DEST)]
    assert tx.next_deadline() == 0.2 + 32.0  # J = 64*T1
    tx.on_timer(40.0)
    assert tx.terminated


def test_every_row_stays_within_its_kind() -> None:
    starts = {Kind.ICT: State.CALLING, Kind.NICT: State.TRYING, Kind.IST: State.PROCEEDING,
              Kind.NIST: State.TRYING}
    reachable = {(k, s) for k, s in starts.items()}
    for (kind, _state, _inp), (nxt, _steps) in TRANSITIONS.items():
        reachable.add((kind, nxt))
    for (kind, state, _inp) in TRANSITIONS:
        assert (kind, state) in reachable
