"""REGISTER with refresh before expiry and retry with backoff (RFC 3261 section 10).

A table of (state, input) -> state; the work of each input is in the methods below.
A 2xx whose Via shows a different public address (received/rport, RFC 3581) registers
again at once with the corrected Contact.  423 takes the registrar's Min-Expires.
"""

from __future__ import annotations

import enum
import logging

from modem.sip.core import Outgoing, UACore
from modem.sip.errors import SipParseError
from modem.sip.events import Registered, RegistrationFailed
from modem.sip.message import SipResponse
from modem.sip.uri import NameAddr, SipUri

log = logging.getLogger("modem.sip.ua")


class RegState(enum.Enum):
    IDLE = "idle"
    REGISTERING = "registering"
    REGISTERED = "registered"
    WAITING_RETRY = "waiting to retry"
    UNREGISTERING = "unregistering"


class RegInput(enum.Enum):
    START = "start"
    OK = "2xx"
    FAIL = "failure"
    DUE = "refresh or retry due"
    STOP = "stop"


_R = RegState
_N = RegInput
TRANSITIONS: dict[tuple[RegState, RegInput], RegState] = {
    (_R.IDLE, _N.START): _R.REGISTERING,
    (_R.REGISTERING, _N.START): _R.REGISTERING,
    (_R.REGISTERING, _N.OK): _R.REGISTERED,
    (_R.REGISTERING, _N.FAIL): _R.WAITING_RETRY,
    (_R.REGISTERING, _N.STOP): _R.UNREGISTERING,
    (_R.REGISTERED, _N.START): _R.REGISTERING,
    (_R.REGISTERED, _N.DUE): _R.REGISTERING,
    (_R.REGISTERED, _N.STOP): _R.UNREGISTERING,
    (_R.WAITING_RETRY, _N.START): _R.REGISTERING,
    (_R.WAITING_RETRY, _N.DUE): _R.REGISTERING,
    (_R.WAITING_RETRY, _N.STOP): _R.IDLE,
    (_R.UNREGISTERING, _N.OK): _R.IDLE,
    (_R.UNREGISTERING, _N.FAIL): _R.IDLE,
}


def refresh_delay(expires: int) -> float:
    """Refresh ahead of expiry: a tenth early (at least 5 s), never later than half-way."""
    return expires - min(max(expires * 0.1, 5.0), expires / 2)


class Registration:
    def __init__(self, core: UACore) -> None:
        self.core = core
        self.state = RegState.IDLE
        self.call_id = core.new_call_id()
        self.tag = core.token(32)
        self.seq = 0
        self.expires = core.config.register_expires
        self.deadline: float | None = None
        self.failures = 0
        self.granted = 0

    def _move(self, inp: RegInput) -> bool:
        nxt = TRANSITIONS.get((self.state, inp))
        if nxt is None:
            return False
        self.state = nxt
        return True

    @property
    def registered(self) -> bool:
        return self.state is RegState.REGISTERED

    def start(self, now: float) -> None:
        if self._move(RegInput.START):
            self._send(self.expires, now)

    def stop(self, now: float) -> None:
        was = self.state
        if self._move(RegInput.STOP):
            self.deadline = None
            if self.state is RegState.UNREGISTERING and was is RegState.REGISTERED:
                self._send(0, now)
            elif self.state is RegState.UNREGISTERING:
                self.state = RegState.IDLE

    def next_deadline(self) -> float | None:
        return self.deadline

    def on_timer(self, now: float) -> None:
        if self.deadline is not None and now >= self.deadline:
            self.deadline = None
            if self._move(RegInput.DUE):
                self._send(self.expires, now)

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _send(self, expires: int, now: float) -> None:
        core = self.core
        cfg = core.config
        aor = core.aor()
        registrar = SipUri(host=cfg.domain)
        contact = core.contact()
        contact.params["expires"] = str(expires)
        from_ = NameAddr(aor, cfg.display_name or None, {"tag": self.tag})
        request = core.request("REGISTER", registrar, from_, NameAddr(aor), self.call_id, self._next_seq(),
                               routes=core.preloaded_routes())
        request.headers.add("Contact", str(contact))
        request.headers.add("Expires", str(expires))
        core.common_headers(request.headers)
        dest = cfg.outbound_proxy or cfg.registrar or registrar.hostport()
        core.send_request(Outgoing(request, dest, self._on_response, self._next_seq), now)

    def _on_response(self, response: SipResponse | None, now: float) -> None:
        if self.state is RegState.UNREGISTERING:
            self._move(RegInput.OK if response is not None and response.status < 300 else RegInput.FAIL)
            return
        if response is None:
            self._fail(408, "Request Timeout", now)
        elif 200 <= response.status < 300:
            self._ok(response, now)
        elif response.status == 423 and self.failures < 3:
            try:
                minimum = response.int_header("Min-Expires")
            except SipParseError:
                minimum = None
            if minimum is None or minimum <= self.expires:
                self._fail(423, response.reason, now)
                return
            self.expires = minimum
            self.failures += 1
            self._send(self.expires, now)
        else:
            self._fail(response.status, response.reason, now)

    def _ok(self, response: SipResponse, now: float) -> None:
        if self.core.learn_public(response):
            self._send(self.expires, now)  # register the Contact the registrar can reach
            return
        self._move(RegInput.OK)
        self.failures = 0
        self.granted = self._granted(response)
        self.deadline = now + refresh_delay(self.granted)
        self.core.events.append(Registered(self.granted))
        log.info("sip registered", extra={"expires": self.granted})

    def _granted(self, response: SipResponse) -> int:
        ours = self.core.contact().uri
        try:
            for contact in response.contacts():
                theirs = contact.uri
                if (theirs.user, theirs.host, theirs.port) == (ours.user, ours.host, ours.port):
                    value = contact.params.get("expires")
                    if value and value.isdigit():
                        return int(value)
            expires = response.int_header("Expires")
        except SipParseError:
            expires = None
        return expires if expires is not None else self.expires

    def _fail(self, code: int, reason: str, now: float) -> None:
        self._move(RegInput.FAIL)
        cfg = self.core.config
        delay = min(cfg.register_retry * 2 ** min(self.failures, 16), cfg.register_retry_max)
        self.failures += 1
        self.deadline = now + delay
        self.core.events.append(RegistrationFailed(code, reason))
        log.warning("sip registration failed", extra={"code": code, "reason": reason, "retry_in": delay})
