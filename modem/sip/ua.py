"""The sans-IO SIP user agent for one trunk (one local address and transport).

Feed it what arrives (:meth:`UserAgent.receive`: a UDP datagram, or one whole message cut
by :class:`~modem.sip.message.StreamFramer` on TCP) and the time; send what
:meth:`UserAgent.take_outgoing` returns; act on :meth:`UserAgent.take_events`; call
:meth:`UserAgent.on_timer` at :meth:`UserAgent.next_deadline`.  Nothing here reads a clock,
opens a socket or draws from global randomness (tags come from the ``rng`` given).

Nothing crashes on a malformed message: a bad request is answered 400 with the reason, a
bad response is dropped and logged.  Requests from any source are handled; the driver
decides whether a caller's ``IncomingCall.source`` is allowed (and rejects with 403).
We transfer calls (:meth:`UserAgent.refer`) but are never transferred: a REFER from the far
end is answered 405 with our Allow (no REFER in it), in a dialog or out of one.
"""

from __future__ import annotations

import logging

from modem.sip import session
from modem.sip.calls import Calls
from modem.sip.core import ALLOW, SUPPORTED, Outgoing, UACore
from modem.sip.errors import SipParseError
from modem.sip.events import CallId, TokenSource, UAConfig, UAEvent
from modem.sip.message import SipRequest, SipResponse, make_response, parse_message
from modem.sip.refer import NOTIFY_TIMEOUT, Transfers
from modem.sip.registration import Registration
from modem.sip.transaction import Address
from modem.sip.uri import NameAddr

log = logging.getLogger("modem.sip.ua")

KNOWN_METHODS = frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE", "REGISTER", "INFO",
                           "PRACK", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH"})


class UserAgent:
    def __init__(self, config: UAConfig, rng: TokenSource) -> None:
        self.config = config
        self.core = UACore(config, rng)
        self.registration = Registration(self.core)
        self.calls = Calls(self.core)
        self.transfers = Transfers(self.calls)
        self._keepalive_at: float | None = None

    # registration -------------------------------------------------------------------------------
    def register(self, now: float) -> None:
        """Register now, and keep refreshing (and retrying with backoff) from then on."""
        self.registration.start(now)
        self._arm_keepalive(now)

    def unregister(self, now: float) -> None:
        self.registration.stop(now)

    @property
    def registered(self) -> bool:
        return self.registration.registered

    # calls ----------------------------------------------------------------------------------
    def invite(self, target_uri: str, sdp: bytes, now: float, *, caller_id: str | None = None) -> CallId:
        """Place a call to a SIP URI or a number at the trunk's domain; returns its Call-ID."""
        self._arm_keepalive(now)
        return self.calls.invite(target_uri, sdp, now, caller_id)

    def ringing(self, call_id: CallId, now: float) -> None:
        self.calls.ringing(call_id, now)

    def answer(self, call_id: CallId, sdp: bytes, now: float) -> None:
        self.calls.answer(call_id, sdp, now)

    def reject(self, call_id: CallId, code: int, reason: str | None, now: float) -> None:
        self.calls.reject(call_id, code, reason, now)

    def reinvite(self, call_id: CallId, sdp: bytes, now: float) -> None:
        session.reinvite(self.calls, call_id, sdp, now)

    def withdraw_reinvite(self, call_id: CallId) -> bool:
        """Forget our re-INVITE waiting to be retried after a 491 (see session.withdraw_reinvite)."""
        return session.withdraw_reinvite(self.calls, call_id)

    def accept_reinvite(self, call_id: CallId, sdp: bytes, now: float) -> None:
        session.accept_reinvite(self.calls, call_id, sdp, now)

    def reject_reinvite(self, call_id: CallId, code: int, now: float) -> None:
        session.reject_reinvite(self.calls, call_id, code, now)

    def hangup(self, call_id: CallId, now: float) -> None:
        """BYE if established, CANCEL if ringing out, 603 if ringing in; twice is harmless."""
        self.calls.hangup(call_id, now)

    def refer(self, call_id: CallId, target: str, now: float, *, timeout: float = NOTIFY_TIMEOUT) -> None:
        """Blind transfer: REFER the far end of an established call to ``target`` (a SIP URI or a
        number at the trunk's domain).  TransferAccepted then TransferEnded tell how it went
        (see :mod:`modem.sip.refer`); ``timeout``: how long to wait for the final NOTIFY."""
        self.transfers.refer(call_id, target, now, timeout)

    def local_sdp(self, call_id: CallId) -> bytes:
        return self.calls.get(call_id).local_sdp

    # pump -----------------------------------------------------------------------------------
    def take_outgoing(self) -> list[tuple[bytes, Address]]:
        out, self.core.outgoing = self.core.outgoing, []
        return out

    def take_events(self) -> list[UAEvent]:
        out, self.core.events = self.core.events, []
        return out

    def next_deadline(self) -> float | None:
        deadlines = [self.core.next_deadline(), self.registration.next_deadline(),
                     self.calls.next_deadline(), self.transfers.next_deadline(), self._keepalive_at]
        return min((d for d in deadlines if d is not None), default=None)

    def on_timer(self, now: float) -> None:
        self.core.on_timer(now)
        self.registration.on_timer(now)
        self.calls.on_timer(now)
        self.transfers.on_timer(now)
        if self._keepalive_at is not None and now >= self._keepalive_at:
            self._keepalive(now)

    def receive(self, data: bytes, source: Address, now: float) -> None:
        """One datagram or one whole stream message from ``source``."""
        if not data.strip(b"\r\n"):
            return  # keep-alive
        try:
            message = parse_message(data)
        except SipParseError as exc:
            self._malformed(data, source, exc)
            return
        try:
            if isinstance(message, SipResponse):
                if not self.core.on_response(message, now):
                    self.calls.on_stray_response(message, now)
            else:
                self._request(message, source, now)
        except SipParseError as exc:  # a header the dispatch needed was malformed
            self._malformed(data, source, exc)

    # internals --------------------------------------------------------------------------------
    def _malformed(self, data: bytes, source: Address, exc: SipParseError) -> None:
        try:
            partial = parse_message(data, check=False)
        except SipParseError:
            partial = None
        if isinstance(partial, SipRequest) and partial.method != "ACK" and partial.headers.get("Via"):
            response = make_response(partial, 400, f"Bad Request ({exc})"[:120], to_tag=self.core.token(32))
            self.core.outgoing.append((response.serialize(), source))
            log.info("sip bad request answered 400", extra={"error": str(exc), "source": source})
        else:
            log.warning("sip malformed message dropped", extra={"error": str(exc), "source": source})

    def _request(self, request: SipRequest, source: Address, now: float) -> None:
        core = self.core
        if request.method == "ACK":
            if core.server_transaction(request, source, now) is None:
                self.calls.on_ack(request, now)
            return
        if core.server_transaction(request, source, now) is not None:
            return  # a retransmission, answered by its transaction
        if request.method == "CANCEL":
            self.calls.on_cancel(request, source, now)
            return
        if request.to().tag is not None:
            self._in_dialog(request, source, now)
            return
        if request.method == "INVITE":
            self.calls.on_new_invite(request, source, now)
        elif request.method == "OPTIONS":
            tx = core.new_server(request, source, now)
            core.respond(tx, 200, now, to_tag=core.token(32), extra=self._capabilities())
        elif request.method == "BYE":
            core.respond(core.new_server(request, source, now), 481, now, to_tag=core.token(32))
        else:
            self._unsupported(request, source, now)

    def _in_dialog(self, request: SipRequest, source: Address, now: float) -> None:
        core = self.core
        call = self.calls.in_dialog(request)
        if request.method == "BYE":
            self.calls.on_bye(request, source, now)
        elif call is None:
            core.respond(core.new_server(request, source, now), 481, now)
        elif request.method == "INVITE":
            session.on_reinvite(self.calls, call, request, source, now)
        elif request.method == "UPDATE":
            session.on_update(self.calls, call, request, source, now)
        elif request.method == "NOTIFY":
            self.transfers.on_notify(call, request, source, now)
        elif request.method in ("OPTIONS", "INFO"):
            core.respond(core.new_server(request, source, now), 200, now, extra=self._capabilities())
        else:
            self._unsupported(request, source, now)

    def _unsupported(self, request: SipRequest, source: Address, now: float) -> None:
        core = self.core
        tx = core.new_server(request, source, now)
        tag = None if request.to().tag else core.token(32)
        if request.method in KNOWN_METHODS:
            core.respond(tx, 405, now, to_tag=tag, extra=[("Allow", ALLOW)])
        else:
            core.respond(tx, 501, now, to_tag=tag)

    def _capabilities(self) -> list[tuple[str, str]]:
        return [("Allow", ALLOW), ("Supported", SUPPORTED), ("Accept", "application/sdp"),
                ("Server", self.config.user_agent)]

    def _trunk(self) -> Address | None:
        return self.config.outbound_proxy or self.config.registrar or self.config.proxy

    def _arm_keepalive(self, now: float) -> None:
        if self.config.keepalive_interval and self._keepalive_at is None and self._trunk() is not None:
            self._keepalive_at = now + self.config.keepalive_interval

    def _keepalive(self, now: float) -> None:
        """CRLF (RFC 5626 3.5.1) or OPTIONS to the trunk, so NAT bindings stay open."""
        trunk = self._trunk()
        interval = self.config.keepalive_interval
        self._keepalive_at = now + interval if interval else None
        if trunk is None:
            return
        if not self.config.keepalive_options:
            self.core.outgoing.append((b"\r\n\r\n", trunk))
            return
        core = self.core
        uri = core.aor().__class__(host=self.config.domain)
        request = core.request("OPTIONS", uri, NameAddr(core.aor(), None, {"tag": core.token(32)}),
                               NameAddr(uri), core.new_call_id(), 1)
        core.common_headers(request.headers)
        core.send_request(Outgoing(request, trunk, lambda r, t: None, lambda: 2), now)
