"""Calls: INVITE out and in, answer, CANCEL, BYE, the ACK to 2xx (RFC 3261 sections 12-15).

:class:`Calls` keeps one :class:`~modem.sip.dialog.Call` per Call-ID and moves it with the
table in :mod:`modem.sip.dialog`.  Offers and answers inside a call (re-INVITE, UPDATE,
session timers) are in :mod:`modem.sip.session`, which works on the same calls.
Every call ends with exactly one CallFailed (ours, never answered) or CallEnded event.
"""

from __future__ import annotations

import logging

from modem.sip.core import Outgoing, UACore
from modem.sip.dialog import Call, CallInput, CallState, Pending2xx
from modem.sip.errors import SipParseError, SipUsageError
from modem.sip.events import (
    CallAnswered,
    CallEnded,
    CallFailed,
    CallId,
    CallProgress,
    IncomingCall,
)
from modem.sip.message import SipRequest, SipResponse
from modem.sip.session import (
    check_session_request,
    on_ack,
    on_session_timer,
    session_headers,
    start_session_timer,
    take_session_timer,
)
from modem.sip.transaction import Address, Transaction
from modem.sip.uri import CSeq, NameAddr, SipUri

log = logging.getLogger("modem.sip.ua")

SUPPORTED_EXTENSIONS = frozenset({"timer"})
PURGE_AFTER = 32.0  # keep an ended call this long to answer retransmissions


def target_uri(target: str, domain: str) -> SipUri:
    """A SIP URI from ``sip:...`` / ``tel:...`` text, or a plain number at the trunk's domain."""
    if ":" in target and target.split(":", 1)[0].lower() in ("sip", "sips"):
        return SipUri.parse(target)
    number = target.removeprefix("tel:")
    return SipUri(host=domain, user=number, params={"user": "phone"} if number.startswith("+") else {})


class Calls:
    def __init__(self, core: UACore) -> None:
        self.core = core
        self.calls: dict[CallId, Call] = {}

    # lookups ------------------------------------------------------------------------------------
    def get(self, call_id: CallId) -> Call:
        call = self.calls.get(call_id)
        if call is None:
            raise SipUsageError(f"no call {call_id}")
        return call

    def in_dialog(self, msg: SipRequest) -> Call | None:
        """The call an in-dialog request belongs to (Call-ID and both tags), or None."""
        call = self.calls.get(msg.call_id())
        if call is None or msg.to().tag != call.local_tag:
            return None
        if call.remote_tag is not None and msg.from_().tag != call.remote_tag:
            return None
        return call

    # building -----------------------------------------------------------------------------------
    def dest(self, call: Call) -> Address:
        cfg = self.core.config
        if cfg.outbound_proxy is not None:
            return cfg.outbound_proxy
        if call.route_set:
            first = NameAddr.parse(call.route_set[0]).uri
            if first.lr:
                return first.hostport()
        return (call.remote_target or call.remote.uri).hostport()

    def dialog_request(self, call: Call, method: str, body: bytes = b"",
                       seq: int | None = None) -> SipRequest:
        uri = call.remote_target or call.remote.uri
        request = self.core.request(method, uri, call.local, call.remote, call.call_id,
                                    call.next_seq() if seq is None else seq, routes=call.route_set, body=body)
        if method in ("INVITE", "UPDATE"):
            request.headers.add("Contact", str(self.core.contact()))
            self.core.common_headers(request.headers)
        return request

    def response_extras(self) -> list[tuple[str, str]]:
        cfg = self.core.config
        return [("Contact", str(self.core.contact())), ("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE"),
                ("Supported", "timer"), ("Server", cfg.user_agent)]

    # outgoing calls -----------------------------------------------------------------------------
    def invite(self, target: str, sdp: bytes, now: float, caller_id: str | None = None) -> CallId:
        core = self.core
        cfg = core.config
        uri = target_uri(target, cfg.domain)
        call_id = core.new_call_id()
        local = NameAddr(core.aor(caller_id), cfg.display_name or None, {"tag": core.token(32)})
        remote = NameAddr(SipUri(host=uri.host, user=uri.user, port=uri.port, scheme=uri.scheme))
        call = Call(call_id, True, local, remote, CallState.CALLING, local_sdp=sdp)
        request = core.request("INVITE", uri, local, remote, call_id, call.next_seq(),
                               routes=core.preloaded_routes(), body=sdp)
        request.headers.add("Contact", str(core.contact()))
        core.common_headers(request.headers)
        if cfg.session_expires:
            request.headers.add("Session-Expires", str(cfg.session_expires))
            request.headers.add("Min-SE", str(cfg.min_se))
        call.invite = request
        call.invite_dest = core.default_dest(uri)
        self.calls[call_id] = call
        self._send_invite(call, request, now)
        return call_id

    def _send_invite(self, call: Call, request: SipRequest, now: float) -> None:
        def resent(retry: SipRequest) -> None:
            call.invite = retry
            call.auth_headers = [(n, v) for n, v in retry.headers.items
                                 if n in ("Authorization", "Proxy-Authorization")]

        assert call.invite_dest is not None
        self.core.send_request(Outgoing(
            request, call.invite_dest, lambda r, t: self._invite_final(call, r, t), call.next_seq,
            provisional=lambda r, t: self._invite_provisional(call, r, t), on_resend=resent), now)

    def _invite_provisional(self, call: Call, response: SipResponse, now: float) -> None:
        if call.state is CallState.CANCELLING and call.cancel_pending:
            call.cancel_pending = False
            self._send_cancel(call, now)
        if response.status == 100 or not call.move(CallInput.RX_1XX):
            return
        if call.state is CallState.EARLY:
            self.core.events.append(CallProgress(call.call_id, response.status, response.body))

    def _invite_final(self, call: Call, response: SipResponse | None, now: float) -> None:
        was = call.state
        if response is not None and 200 <= response.status < 300:
            self._invite_2xx(call, response, now)
            return
        if response is not None and response.status == 422 and self._retry_422(call, response, now):
            return
        if not call.move(CallInput.TIMEOUT if response is None else CallInput.RX_FAILURE):
            return
        if was is CallState.CANCELLING:
            self._end(call, "cancelled", False, now)
        else:
            code, reason = (408, "Request Timeout") if response is None \
                else (response.status, response.reason)
            self.core.events.append(CallFailed(call.call_id, code, reason))
            call.purge_at = now + PURGE_AFTER

    def _retry_422(self, call: Call, response: SipResponse, now: float) -> bool:
        try:
            minimum = response.int_header("Min-SE")
        except SipParseError:
            return False
        if call.invite is None or minimum is None or call.invite.headers.get("Min-SE") == str(minimum):
            return False
        headers = call.invite.headers.copy()
        headers.set("Via", str(self.core.via()))
        headers.set("CSeq", str(CSeq(call.next_seq(), "INVITE")))
        headers.set("Session-Expires", str(minimum))
        headers.set("Min-SE", str(minimum))
        call.invite = SipRequest(headers, call.invite.body, method="INVITE", uri=call.invite.uri)
        self._send_invite(call, call.invite, now)
        return True

    def _invite_2xx(self, call: Call, response: SipResponse, now: float) -> None:
        if call.state in (CallState.CALLING, CallState.EARLY, CallState.CANCELLING):
            call.remote = response.to()
            contacts = response.contacts()
            call.remote_target = contacts[0].uri if contacts else call.remote.uri
            call.route_set = list(reversed(response.headers.get_all("Record-Route")))
            call.remote_allow = response.tokens("Allow")
        self.send_ack(call, response.cseq().seq, now)
        if call.move(CallInput.RX_2XX):
            if call.state is CallState.TERMINATING:  # answered while we were cancelling
                self._send_bye(call, now)
                self._end(call, "cancelled", False, now, purge=False)
                return
            call.remote_sdp = response.body
            take_session_timer(call, response, we_are_uac=True, now=now)
            self.core.events.append(CallAnswered(call.call_id, response.body))

    def send_ack(self, call: Call, seq: int, now: float) -> None:
        """ACK a 2xx to our INVITE (or a retransmission of it) within the dialog."""
        data = call.acks.get(seq)
        if data is None:
            ack = self.dialog_request(call, "ACK", seq=seq)
            ack.headers.set("CSeq", str(CSeq(seq, "ACK")))
            for name, value in call.auth_headers:
                ack.headers.add(name, value)
            data = ack.serialize()
            call.acks = {seq: data}
        self.core.outgoing.append((data, self.dest(call)))

    def on_stray_response(self, response: SipResponse, now: float) -> None:
        """A response no transaction wants: a retransmitted 2xx to an INVITE gets its ACK again."""
        cseq = response.cseq()
        call = self.calls.get(response.call_id())
        is_2xx = cseq.method == "INVITE" and 200 <= response.status < 300
        if call is not None and is_2xx and cseq.seq in call.acks:
            self.core.outgoing.append((call.acks[cseq.seq], self.dest(call)))
            return
        log.debug("sip stray response dropped", extra={"status": response.status, "cseq": str(cseq)})

    def _send_cancel(self, call: Call, now: float) -> None:
        invite = call.invite
        assert invite is not None and call.invite_dest is not None
        cancel = self.core.request("CANCEL", invite.uri, invite.from_(), invite.to(), call.call_id,
                                   invite.cseq().seq)
        cancel.headers.set("Via", invite.headers.get_all("Via")[0])
        cancel.headers.remove("Route")
        for route in invite.headers.get_all("Route"):
            cancel.headers.add("Route", route)
        self.core.send_request(Outgoing(cancel, call.invite_dest, lambda r, t: None, call.next_seq), now)

    def _send_bye(self, call: Call, now: float) -> None:
        bye = self.dialog_request(call, "BYE")
        self.core.send_request(Outgoing(bye, self.dest(call), lambda r, t: self._bye_done(call, t),
                                        call.next_seq), now)

    def _bye_done(self, call: Call, now: float) -> None:
        if call.move(CallInput.BYE_DONE):
            call.purge_at = now + PURGE_AFTER

    def _end(self, call: Call, reason: str, by_remote: bool, now: float, *, purge: bool = True) -> None:
        self.core.events.append(CallEnded(call.call_id, reason, by_remote))
        call.pending_2xx = None
        call.session_deadline = None
        call.retry_at = None
        if purge:
            call.purge_at = now + PURGE_AFTER
        log.info("sip call ended", extra={"call_id": call.call_id, "reason": reason, "by_remote": by_remote})

    def end_dialog(self, call: Call, reason: str, now: float) -> None:
        """The dialog is gone (no ACK, session expired, 481/408 in dialog): BYE and end."""
        if call.move(CallInput.DIALOG_GONE):
            self._send_bye(call, now)
            self._end(call, reason, False, now, purge=False)

    # app actions --------------------------------------------------------------------------------
    def ringing(self, call_id: CallId, now: float) -> None:
        call = self.get(call_id)
        if call.invite_tx is None or not call.move(CallInput.APP_RINGING):
            raise SipUsageError(f"call {call_id} is not ringing in ({call.state.value})")
        self.core.respond(call.invite_tx, 180, now, to_tag=call.local_tag, extra=self.response_extras()[:1])

    def answer(self, call_id: CallId, sdp: bytes, now: float) -> None:
        call = self.get(call_id)
        tx = call.invite_tx
        if tx is None or not call.move(CallInput.APP_ANSWER):
            raise SipUsageError(f"call {call_id} cannot be answered ({call.state.value})")
        call.local_sdp = sdp
        extra = self.response_extras() + session_headers(call, tx.request)
        response = self.core.respond(tx, 200, now, to_tag=call.local_tag, extra=extra, body=sdp)
        self.start_2xx(call, response, tx, now)

    def start_2xx(self, call: Call, response: SipResponse, tx: Transaction, now: float) -> None:
        t1 = self.core.config.timers.t1
        if self.core.config.reliable:
            resend, give_up = now + 64 * t1, now + 64 * t1
        else:
            resend, give_up = now + t1, now + 64 * t1
        call.pending_2xx = Pending2xx(response.serialize(), tx.dest, response.cseq().seq, resend, t1, give_up)

    def reject(self, call_id: CallId, code: int, reason: str | None, now: float) -> None:
        call = self.get(call_id)
        if not 300 <= code < 700:
            raise SipUsageError(f"reject needs a 3xx-6xx code, not {code}")
        if call.invite_tx is None or not call.move(CallInput.APP_REJECT):
            raise SipUsageError(f"call {call_id} cannot be rejected ({call.state.value})")
        self.core.respond(call.invite_tx, code, now, reason=reason, to_tag=call.local_tag)
        self._end(call, "rejected", False, now)

    def hangup(self, call_id: CallId, now: float) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return  # already gone: hanging up twice is harmless
        was = call.state
        if not call.move(CallInput.APP_HANGUP) or was is call.state:
            return
        if was is CallState.INCOMING and call.invite_tx is not None:
            self.core.respond(call.invite_tx, 603, now, to_tag=call.local_tag)
            self._end(call, "rejected", False, now)
        elif was is CallState.EARLY:
            self._send_cancel(call, now)
        elif was is CallState.CALLING:
            call.cancel_pending = True  # CANCEL once a provisional response comes (RFC 3261 9.1)
        elif call.state is CallState.TERMINATING:
            if call.re_in_tx is not None and not call.re_in_tx.terminated:
                self.core.respond(call.re_in_tx, 487, now)  # their offer dies with the call
                call.re_in_tx = None
            self._send_bye(call, now)
            self._end(call, "hangup", False, now, purge=False)

    # incoming requests ----------------------------------------------------------------------
    def on_new_invite(self, request: SipRequest, source: Address, now: float) -> None:
        core = self.core
        existing = self.calls.get(request.call_id())
        if existing is not None:  # a retransmission after our 2xx ended its transaction, or a loop
            pending = existing.pending_2xx
            if pending is not None and pending.seq == request.cseq().seq:
                core.outgoing.append((pending.data, pending.dest))
            elif existing.outgoing or existing.remote_seq != request.cseq().seq:
                core.respond(core.new_server(request, source, now), 482, now, to_tag=core.token(32))
            return
        tx = core.new_server(request, source, now)
        refusal = self.refusal(request)
        if refusal is None:
            refusal = check_session_request(request, core.config.min_se)
        if refusal is not None:
            code, reason, extra = refusal
            core.respond(tx, code, now, reason=reason, to_tag=core.token(32), extra=extra)
            return
        core.respond(tx, 100, now)
        to = request.to()
        local = NameAddr(to.uri, to.display, {**to.params, "tag": core.token(32)})
        remote = request.from_()
        contacts = request.contacts()
        call = Call(request.call_id(), False, local, remote, CallState.INCOMING,
                    remote_target=contacts[0].uri if contacts else remote.uri,
                    route_set=request.headers.get_all("Record-Route"), remote_seq=request.cseq().seq,
                    invite=request, invite_tx=tx, remote_sdp=request.body,
                    remote_allow=request.tokens("Allow"))
        self.calls[call.call_id] = call
        pai = request.headers.get("P-Asserted-Identity")
        try:
            asserted = str(NameAddr.parse(pai).uri) if pai else None
        except SipParseError:
            asserted = None
        core.events.append(IncomingCall(call.call_id, str(remote.uri), remote.display, str(to.uri),
                                        str(request.uri), asserted, request.body, source))

    def refusal(self, request: SipRequest) -> tuple[int, str, list[tuple[str, str]]] | None:
        if request.int_header("Max-Forwards") == 0:
            return 483, "Too Many Hops", []
        if request.uri.scheme not in ("sip", "sips"):
            return 416, "Unsupported URI Scheme", []
        unsupported = request.tokens("Require") - SUPPORTED_EXTENSIONS
        if unsupported:
            return 420, "Bad Extension", [("Unsupported", ", ".join(sorted(unsupported)))]
        ctype = (request.headers.get("Content-Type") or "application/sdp").split(";")[0].strip().lower()
        if request.body and (ctype != "application/sdp" or request.headers.get("Content-Encoding")):
            return 415, "Unsupported Media Type", [("Accept", "application/sdp")]
        return None

    def on_cancel(self, request: SipRequest, source: Address, now: float) -> None:
        core = self.core
        invite_tx = core.servers.get((request.via().branch or "", *_sent_by_invite(request)))
        cancel_tx = core.new_server(request, source, now)
        call = self.calls.get(request.call_id())
        if invite_tx is None or call is None or call.invite_tx is not invite_tx:
            core.respond(cancel_tx, 481, now, to_tag=core.token(32))
            return
        core.respond(cancel_tx, 200, now, to_tag=call.local_tag)
        if call.move(CallInput.RX_CANCEL):
            core.respond(invite_tx, 487, now, to_tag=call.local_tag)
            self._end(call, "cancelled", True, now)

    def on_ack(self, request: SipRequest, now: float) -> None:
        call = self.in_dialog(request)
        if call is None or call.pending_2xx is None or call.pending_2xx.seq != request.cseq().seq:
            return
        call.pending_2xx = None
        was = call.state
        if call.move(CallInput.RX_ACK):
            if was is CallState.ANSWERED:
                start_session_timer(call, now)
            elif call.state is CallState.TERMINATING:
                self._send_bye(call, now)
                self._end(call, "hangup", False, now, purge=False)
        on_ack(call, request)

    def on_bye(self, request: SipRequest, source: Address, now: float) -> None:
        core = self.core
        tx = core.new_server(request, source, now)
        call = self.in_dialog(request)
        was = call.state if call is not None else None
        if call is None or not call.move(CallInput.RX_BYE):
            core.respond(tx, 481, now)
            return
        core.respond(tx, 200, now)
        if call.re_in_tx is not None and not call.re_in_tx.terminated:
            core.respond(call.re_in_tx, 487, now)
        if was is not CallState.TERMINATING:
            self._end(call, "bye", True, now)

    # timers ---------------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        return min((d for call in self.calls.values() for d in call.deadlines()), default=None)

    def on_timer(self, now: float) -> None:
        for call in list(self.calls.values()):
            if call.purge_at is not None and now >= call.purge_at:
                del self.calls[call.call_id]
                continue
            pending = call.pending_2xx
            if pending is not None and now >= pending.resend_at:
                if now >= pending.give_up_at:
                    call.pending_2xx = None
                    self.end_dialog(call, "no ack", now)
                    continue
                self.core.outgoing.append((pending.data, pending.dest))
                pending.interval = min(pending.interval * 2, self.core.config.timers.t2)
                pending.resend_at = min(now + pending.interval, pending.give_up_at)
            on_session_timer(self, call, now)


def _sent_by_invite(request: SipRequest) -> tuple[str, str]:
    via = request.via()
    return (f"{via.host}:{via.port or 5060}", "INVITE")
