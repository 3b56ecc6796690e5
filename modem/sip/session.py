"""Offer/answer inside a call: re-INVITE both ways, 491 glare, UPDATE, session timers.

Their re-INVITE with a new SDP goes to the app (ReInviteReceived).  A re-INVITE or UPDATE
that only refreshes the session (no SDP, or an SDP whose ``o=`` line is unchanged) is
answered here with the CURRENT local SDP, so a refresh never renegotiates a fax in progress
(RFC 4028).  When we are the refresher we send the refresh ourselves: an UPDATE without SDP
if the far end allows UPDATE, else a re-INVITE repeating our current SDP.  On 491 we retry
after the RFC 3261 14.1 wait (2.1-4 s if we own the Call-ID, else 0-2 s).
"""

from __future__ import annotations

from typing import Protocol

from modem.sip.core import Outgoing, UACore
from modem.sip.dialog import Call, CallState, ReInput, ReState, sdp_origin
from modem.sip.errors import SipParseError, SipUsageError
from modem.sip.events import CallId, ReInviteAccepted, ReInviteReceived, ReInviteRejected
from modem.sip.message import SipMessage, SipRequest, SipResponse
from modem.sip.transaction import Address, Transaction
from modem.sip.uri import parse_params

Refusal = tuple[int, str, list[tuple[str, str]]]


class Calls(Protocol):
    """What this module uses of :class:`modem.sip.calls.Calls` (which calls into it)."""

    core: UACore

    def get(self, call_id: CallId) -> Call: ...
    def dest(self, call: Call) -> Address: ...
    def dialog_request(self, call: Call, method: str, body: bytes = b"",
                       seq: int | None = None) -> SipRequest: ...
    def send_ack(self, call: Call, seq: int, now: float) -> None: ...
    def end_dialog(self, call: Call, reason: str, now: float) -> None: ...
    def start_2xx(self, call: Call, response: SipResponse, tx: Transaction, now: float) -> None: ...
    def response_extras(self) -> list[tuple[str, str]]: ...
    def refusal(self, request: SipRequest) -> Refusal | None: ...

MAX_GLARE_RETRIES = 5
GONE = (408, 481)  # responses to an in-dialog request that end the dialog (RFC 3261 12.2.1.2)


def parse_session_expires(value: str) -> tuple[int, str | None]:
    number, _, params = value.partition(";")
    number = number.strip()
    if not number.isdigit() or len(number) > 10:
        raise SipParseError("bad Session-Expires")
    refresher = parse_params(params).get("refresher")
    return int(number), refresher.lower() if refresher else None


def check_session_request(request: SipRequest, min_se: int) -> Refusal | None:
    value = request.headers.get("Session-Expires")
    if value is None:
        return None
    try:
        interval, _ = parse_session_expires(value)
    except SipParseError:
        return 400, "Bad Session-Expires", []
    if interval < min_se:
        return 422, "Session Interval Too Small", [("Min-SE", str(min_se))]
    return None


def session_headers(call: Call, request: SipRequest) -> list[tuple[str, str]]:
    """Take the session timer from their request and give the headers for our 2xx."""
    value = request.headers.get("Session-Expires")
    if value is None:
        return []
    interval, refresher = parse_session_expires(value)
    if refresher not in ("uac", "uas"):
        refresher = "uac" if "timer" in request.tokens("Supported") else "uas"
    call.session_interval = interval
    call.refresher_is_us = refresher == "uas"
    headers = [("Session-Expires", f"{interval};refresher={refresher}")]
    if "timer" in request.tokens("Supported"):
        headers.append(("Require", "timer"))
    return headers


def take_session_timer(call: Call, response: SipResponse, *, we_are_uac: bool, now: float) -> None:
    """The session timer granted in a 2xx to our INVITE/UPDATE (none if it has no Session-Expires)."""
    value = response.headers.get("Session-Expires")
    if value is not None:
        try:
            interval, refresher = parse_session_expires(value)
        except SipParseError:
            return
        call.session_interval = interval
        call.refresher_is_us = (refresher or "uac") == ("uac" if we_are_uac else "uas")
    start_session_timer(call, now)


def start_session_timer(call: Call, now: float) -> None:
    interval = call.session_interval
    if not interval:
        call.session_deadline = None
    elif call.refresher_is_us:
        call.session_deadline = now + interval / 2
    else:
        call.session_deadline = now + interval - min(32.0, interval / 3)


def on_ack(call: Call, request: SipRequest) -> None:
    if call.move_re(ReInput.RX_ACK) and request.body:
        call.remote_sdp = request.body  # the answer to an offer we made in a 2xx


def glare_delay(calls: Calls, call: Call) -> float:
    units = calls.core.rng.getrandbits(16)
    return 2.1 + (units % 191) * 0.01 if call.outgoing else (units % 201) * 0.01


def _target_refresh(call: Call, message: SipMessage) -> None:
    try:
        contacts = message.contacts()
    except SipParseError:
        return
    if contacts:
        call.remote_target = contacts[0].uri


# our re-INVITE ---------------------------------------------------------------------------------
def reinvite(calls: Calls, call_id: CallId, sdp: bytes, now: float, *, refresh: bool = False) -> None:
    call = calls.get(call_id)
    if call.state is not CallState.CONFIRMED:
        raise SipUsageError(f"call {call_id} is not established ({call.state.value})")
    was = call.re_state
    if not call.move_re(ReInput.APP_REINVITE):
        raise SipUsageError(f"call {call_id} has an offer in progress ({call.re_state.value})")
    call.re_offer = sdp
    call.re_refresh = refresh
    if was is ReState.IDLE:
        call.retries = 0
        _send_reinvite(calls, call, now)


def _send_reinvite(calls: Calls, call: Call, now: float) -> None:
    request = calls.dialog_request(call, "INVITE", body=call.re_offer)
    if call.session_interval:
        refresher = "uac" if call.refresher_is_us else "uas"
        request.headers.add("Session-Expires", f"{call.session_interval};refresher={refresher}")
    def done(response: SipResponse | None, at: float) -> None:
        _reinvite_final(calls, call, response, at)

    calls.core.send_request(Outgoing(request, calls.dest(call), done, call.next_seq), now)


def _reinvite_final(calls: Calls, call: Call, response: SipResponse | None, now: float) -> None:
    core = calls.core
    if response is not None and response.status < 300:
        calls.send_ack(call, response.cseq().seq, now)
    if call.state is not CallState.CONFIRMED:
        return
    refresh = call.re_refresh
    if response is None or response.status in GONE:
        call.move_re(ReInput.RX_FAILURE)
        calls.end_dialog(call, "timeout" if response is None else "dialog gone", now)
    elif response.status < 300:
        call.move_re(ReInput.RX_2XX)
        call.local_sdp = call.re_offer
        if response.body:
            call.remote_sdp = response.body
        _target_refresh(call, response)
        take_session_timer(call, response, we_are_uac=True, now=now)
        if not refresh:
            core.events.append(ReInviteAccepted(call.call_id, response.body))
    elif response.status == 491 and call.retries < MAX_GLARE_RETRIES:
        call.move_re(ReInput.RX_491)
        call.retries += 1
        call.retry_at = now + glare_delay(calls, call)
    else:
        call.move_re(ReInput.RX_FAILURE)
        if refresh:
            start_session_timer(call, now)  # the session is still up; try again next time
        else:
            core.events.append(ReInviteRejected(call.call_id, response.status))


def withdraw_reinvite(calls: Calls, call_id: CallId) -> bool:
    """Drop our offer that lost a glare (491) and waits for its retry -- the far end's own
    offer, accepted meanwhile, may have made it moot (both switching the call to T.38).
    True if one was dropped; an offer already on the wire is not withdrawn."""
    call = calls.get(call_id)
    if call.retry_at is None:
        return False
    call.retry_at = None
    call.move_re(ReInput.APP_WITHDRAW)  # if still waiting; after their offer, its ACK ends it
    return True


def _send_refresh(calls: Calls, call: Call, now: float) -> None:
    if call.re_state is not ReState.IDLE:
        call.session_deadline = now + 2.0  # an exchange is under way; it refreshes too
        return
    if "update" not in call.remote_allow:
        reinvite(calls, call.call_id, call.local_sdp, now, refresh=True)
        return
    request = calls.dialog_request(call, "UPDATE")
    request.headers.add("Session-Expires", f"{call.session_interval};refresher=uac")

    def done(response: SipResponse | None, at: float) -> None:
        if call.state is not CallState.CONFIRMED:
            return
        if response is None or response.status in GONE:
            calls.end_dialog(call, "timeout" if response is None else "dialog gone", at)
        elif response.status < 300:
            take_session_timer(call, response, we_are_uac=True, now=at)
        else:
            call.remote_allow.discard("update")  # re-INVITE next time
            call.session_deadline = at

    calls.core.send_request(Outgoing(request, calls.dest(call), done, call.next_seq), now)


def on_session_timer(calls: Calls, call: Call, now: float) -> None:
    if call.retry_at is not None and now >= call.retry_at:
        if call.state is not CallState.CONFIRMED:
            call.retry_at = None
        elif call.move_re(ReInput.RETRY_DUE):
            call.retry_at = None
            _send_reinvite(calls, call, now)
        else:
            call.retry_at = now + 0.5  # their re-INVITE is being answered: ours after it
    if call.session_deadline is not None and now >= call.session_deadline:
        call.session_deadline = None
        if call.state is not CallState.CONFIRMED:
            return
        if call.refresher_is_us:
            _send_refresh(calls, call, now)
        else:
            calls.end_dialog(call, "session expired", now)


# their re-INVITE and UPDATE --------------------------------------------------------------------
def _in_dialog_checks(calls: Calls, call: Call, request: SipRequest, source: Address,
                      now: float) -> Transaction | None:
    """Common checks on their in-dialog offer: its server transaction, or None if refused."""
    core = calls.core
    seq = request.cseq().seq
    if request.method == "INVITE" and seq == call.remote_seq:
        pending = call.pending_2xx  # a retransmission of the re-INVITE we answered 2xx
        if pending is not None and pending.seq == seq:
            core.outgoing.append((pending.data, pending.dest))
        return None
    tx = core.new_server(request, source, now)
    if call.remote_seq is not None and seq <= call.remote_seq:
        core.respond(tx, 500, now, reason="CSeq Out of Order")
        return None
    call.remote_seq = seq
    refusal: Refusal | None
    if call.state in (CallState.ANSWERED, CallState.HANGUP_AFTER_ACK):
        refusal = 491, "Request Pending", []
    elif call.state is not CallState.CONFIRMED:
        refusal = 481, "Call/Transaction Does Not Exist", []
    elif request.method == "INVITE" and call.re_state is ReState.OUT_PENDING:
        refusal = 491, "Request Pending", []  # glare (RFC 3261 14.2)
    elif call.re_state is ReState.IN_PENDING:
        refusal = 500, "Server Internal Error", [("Retry-After", str(core.rng.getrandbits(8) % 10))]
    else:
        refusal = calls.refusal(request) or check_session_request(request, core.config.min_se)
    if refusal is not None:
        code, reason, extra = refusal
        core.respond(tx, code, now, reason=reason, extra=extra)
        return None
    return tx


def _is_refresh(call: Call, offer: bytes) -> bool:
    origin = sdp_origin(offer)
    return not offer or (origin is not None and origin == sdp_origin(call.remote_sdp))


def on_reinvite(calls: Calls, call: Call, request: SipRequest, source: Address, now: float) -> None:
    tx = _in_dialog_checks(calls, call, request, source, now)
    if tx is None:
        return
    core = calls.core
    _target_refresh(call, request)
    core.respond(tx, 100, now)
    if _is_refresh(call, request.body) and call.move_re(ReInput.RX_REFRESH):
        extra = calls.response_extras() + session_headers(call, request)
        response = core.respond(tx, 200, now, extra=extra, body=call.local_sdp)
        calls.start_2xx(call, response, tx, now)
        start_session_timer(call, now)
        return
    call.move_re(ReInput.RX_REINVITE)
    call.re_in_tx = tx
    core.events.append(ReInviteReceived(call.call_id, request.body))


def on_update(calls: Calls, call: Call, request: SipRequest, source: Address, now: float) -> None:
    tx = _in_dialog_checks(calls, call, request, source, now)
    if tx is None:
        return
    core = calls.core
    if request.body and not _is_refresh(call, request.body):
        core.respond(tx, 488, now, reason="Offer Only By re-INVITE")
        return
    _target_refresh(call, request)
    extra = calls.response_extras()[:1] + session_headers(call, request)
    core.respond(tx, 200, now, extra=extra, body=call.local_sdp if request.body else b"")
    start_session_timer(call, now)


def accept_reinvite(calls: Calls, call_id: CallId, sdp: bytes, now: float) -> None:
    call = calls.get(call_id)
    tx = call.re_in_tx
    if tx is None or not call.move_re(ReInput.APP_ACCEPT):
        raise SipUsageError(f"call {call_id} has no re-INVITE to answer")
    call.re_in_tx = None
    extra = calls.response_extras() + session_headers(call, tx.request)
    response = calls.core.respond(tx, 200, now, extra=extra, body=sdp)
    call.local_sdp = sdp
    call.remote_sdp = tx.request.body
    calls.start_2xx(call, response, tx, now)
    start_session_timer(call, now)


def reject_reinvite(calls: Calls, call_id: CallId, code: int, now: float) -> None:
    call = calls.get(call_id)
    tx = call.re_in_tx
    if not 300 <= code < 700:
        raise SipUsageError(f"reject_reinvite needs a 3xx-6xx code, not {code}")
    if tx is None or not call.move_re(ReInput.APP_REJECT):
        raise SipUsageError(f"call {call_id} has no re-INVITE to answer")
    call.re_in_tx = None
    calls.core.respond(tx, code, now)
