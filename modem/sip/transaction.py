"""SIP transactions (RFC 3261 section 17) as table-driven, sans-IO state machines.

Four kinds: INVITE and non-INVITE, client and server.  Each transaction is fed inputs
(responses, retransmitted requests, the TU's responses, fired timers) and returns actions
(:class:`Send`, :class:`PassUp`, :class:`TimedOut`).  Timers A to K are deadlines held as data;
the owner calls :meth:`Transaction.on_timer` at :meth:`Transaction.next_deadline`.
Retransmission timers (A, E, G) run over unreliable transports only, and the wait timers
D, I, J, K are zero over reliable ones.  The ACK to a non-2xx final response is built and
sent here; the ACK to a 2xx is the dialog's (RFC 3261 13.2.2.4).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field

from modem.sip.message import Headers, SipRequest, SipResponse
from modem.sip.uri import CSeq

log = logging.getLogger("modem.sip.transaction")

Address = tuple[str, int]


@dataclass(frozen=True)
class TimerConfig:
    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0


class Kind(enum.Enum):
    ICT = "invite client"
    NICT = "non-invite client"
    IST = "invite server"
    NIST = "non-invite server"


class State(enum.Enum):
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class Timer(enum.Enum):
    A = "A"
    B = "B"
    D = "D"
    E = "E"
    F = "F"
    G = "G"
    H = "H"
    I = "I"  # noqa: E741 (the RFC's name)
    J = "J"
    K = "K"


class Input(enum.Enum):
    R1XX = "1xx"
    R2XX = "2xx"
    RFINAL = "300-699"
    REQUEST = "request retransmitted"
    ACK = "ack"
    TU_1XX = "tu 1xx"
    TU_2XX = "tu 2xx"
    TU_FINAL = "tu 300-699"
    TIMER = "timer"  # completed by the timer's name, see _timer_input


class Effect(enum.Enum):
    SEND_REQUEST = "send request"
    SEND_ACK = "build and send ACK"
    RESEND_ACK = "resend ACK"
    PASS_UP = "pass response to TU"
    SEND_RESPONSE = "send TU response"
    RESEND_RESPONSE = "resend last response"
    TIMEOUT = "report timeout"


Step = Effect | Timer  # a Timer in a row means: (re)arm it
Row = tuple[State, tuple[Step, ...]]
TimerInput = tuple[Input, Timer]
Key = tuple[Kind, State, Input | TimerInput]

_S = State
_I = Input
_E = Effect
_T = Timer


def _t(timer: Timer) -> TimerInput:
    return (Input.TIMER, timer)


START: dict[Kind, Row] = {
    Kind.ICT: (_S.CALLING, (_E.SEND_REQUEST, _T.A, _T.B)),
    Kind.NICT: (_S.TRYING, (_E.SEND_REQUEST, _T.E, _T.F)),
    Kind.IST: (_S.PROCEEDING, ()),
    Kind.NIST: (_S.TRYING, ()),
}

TRANSITIONS: dict[Key, Row] = {
    # INVITE client (17.1.1)
    (Kind.ICT, _S.CALLING, _I.R1XX): (_S.PROCEEDING, (_E.PASS_UP,)),
    (Kind.ICT, _S.CALLING, _I.R2XX): (_S.TERMINATED, (_E.PASS_UP,)),
    (Kind.ICT, _S.CALLING, _I.RFINAL): (_S.COMPLETED, (_E.SEND_ACK, _E.PASS_UP, _T.D)),
    (Kind.ICT, _S.CALLING, _t(_T.A)): (_S.CALLING, (_E.SEND_REQUEST, _T.A)),
    (Kind.ICT, _S.CALLING, _t(_T.B)): (_S.TERMINATED, (_E.TIMEOUT,)),
    (Kind.ICT, _S.PROCEEDING, _I.R1XX): (_S.PROCEEDING, (_E.PASS_UP,)),
    (Kind.ICT, _S.PROCEEDING, _I.R2XX): (_S.TERMINATED, (_E.PASS_UP,)),
    (Kind.ICT, _S.PROCEEDING, _I.RFINAL): (_S.COMPLETED, (_E.SEND_ACK, _E.PASS_UP, _T.D)),
    (Kind.ICT, _S.COMPLETED, _I.RFINAL): (_S.COMPLETED, (_E.RESEND_ACK,)),
    (Kind.ICT, _S.COMPLETED, _t(_T.D)): (_S.TERMINATED, ()),
    # non-INVITE client (17.1.2)
    (Kind.NICT, _S.TRYING, _I.R1XX): (_S.PROCEEDING, (_E.PASS_UP,)),
    (Kind.NICT, _S.TRYING, _I.R2XX): (_S.COMPLETED, (_E.PASS_UP, _T.K)),
    (Kind.NICT, _S.TRYING, _I.RFINAL): (_S.COMPLETED, (_E.PASS_UP, _T.K)),
    (Kind.NICT, _S.TRYING, _t(_T.E)): (_S.TRYING, (_E.SEND_REQUEST, _T.E)),
    (Kind.NICT, _S.TRYING, _t(_T.F)): (_S.TERMINATED, (_E.TIMEOUT,)),
    (Kind.NICT, _S.PROCEEDING, _I.R1XX): (_S.PROCEEDING, (_E.PASS_UP,)),
    (Kind.NICT, _S.PROCEEDING, _I.R2XX): (_S.COMPLETED, (_E.PASS_UP, _T.K)),
    (Kind.NICT, _S.PROCEEDING, _I.RFINAL): (_S.COMPLETED, (_E.PASS_UP, _T.K)),
    (Kind.NICT, _S.PROCEEDING, _t(_T.E)): (_S.PROCEEDING, (_E.SEND_REQUEST, _T.E)),
    (Kind.NICT, _S.PROCEEDING, _t(_T.F)): (_S.TERMINATED, (_E.TIMEOUT,)),
    (Kind.NICT, _S.COMPLETED, _I.R1XX): (_S.COMPLETED, ()),
    (Kind.NICT, _S.COMPLETED, _I.R2XX): (_S.COMPLETED, ()),
    (Kind.NICT, _S.COMPLETED, _I.RFINAL): (_S.COMPLETED, ()),
    (Kind.NICT, _S.COMPLETED, _t(_T.K)): (_S.TERMINATED, ()),
    # INVITE server (17.2.1)
    (Kind.IST, _S.PROCEEDING, _I.REQUEST): (_S.PROCEEDING, (_E.RESEND_RESPONSE,)),
    (Kind.IST, _S.PROCEEDING, _I.TU_1XX): (_S.PROCEEDING, (_E.SEND_RESPONSE,)),
    (Kind.IST, _S.PROCEEDING, _I.TU_2XX): (_S.TERMINATED, (_E.SEND_RESPONSE,)),
    (Kind.IST, _S.PROCEEDING, _I.TU_FINAL): (_S.COMPLETED, (_E.SEND_RESPONSE, _T.G, _T.H)),
    (Kind.IST, _S.COMPLETED, _I.REQUEST): (_S.COMPLETED, (_E.RESEND_RESPONSE,)),
    (Kind.IST, _S.COMPLETED, _t(_T.G)): (_S.COMPLETED, (_E.RESEND_RESPONSE, _T.G)),
    (Kind.IST, _S.COMPLETED, _t(_T.H)): (_S.TERMINATED, (_E.TIMEOUT,)),
    (Kind.IST, _S.COMPLETED, _I.ACK): (_S.CONFIRMED, (_T.I,)),
    (Kind.IST, _S.CONFIRMED, _I.ACK): (_S.CONFIRMED, ()),
    (Kind.IST, _S.CONFIRMED, _I.REQUEST): (_S.CONFIRMED, ()),
    (Kind.IST, _S.CONFIRMED, _t(_T.I)): (_S.TERMINATED, ()),
    # non-INVITE server (17.2.2)
    (Kind.NIST, _S.TRYING, _I.REQUEST): (_S.TRYING, ()),
    (Kind.NIST, _S.TRYING, _I.TU_1XX): (_S.PROCEEDING, (_E.SEND_RESPONSE,)),
    (Kind.NIST, _S.TRYING, _I.TU_2XX): (_S.COMPLETED, (_E.SEND_RESPONSE, _T.J)),
    (Kind.NIST, _S.TRYING, _I.TU_FINAL): (_S.COMPLETED, (_E.SEND_RESPONSE, _T.J)),
    (Kind.NIST, _S.PROCEEDING, _I.REQUEST): (_S.PROCEEDING, (_E.RESEND_RESPONSE,)),
    (Kind.NIST, _S.PROCEEDING, _I.TU_1XX): (_S.PROCEEDING, (_E.SEND_RESPONSE,)),
    (Kind.NIST, _S.PROCEEDING, _I.TU_2XX): (_S.COMPLETED, (_E.SEND_RESPONSE, _T.J)),
    (Kind.NIST, _S.PROCEEDING, _I.TU_FINAL): (_S.COMPLETED, (_E.SEND_RESPONSE, _T.J)),
    (Kind.NIST, _S.COMPLETED, _I.REQUEST): (_S.COMPLETED, (_E.RESEND_RESPONSE,)),
    (Kind.NIST, _S.COMPLETED, _t(_T.J)): (_S.TERMINATED, ()),
}

# timers that survive entering a state (all others are disarmed on a state change)
STATE_TIMERS: dict[tuple[Kind, State], frozenset[Timer]] = {
    (Kind.ICT, _S.CALLING): frozenset({_T.A, _T.B}),
    (Kind.ICT, _S.COMPLETED): frozenset({_T.D}),
    (Kind.NICT, _S.TRYING): frozenset({_T.E, _T.F}),
    (Kind.NICT, _S.PROCEEDING): frozenset({_T.E, _T.F}),
    (Kind.NICT, _S.COMPLETED): frozenset({_T.K}),
    (Kind.IST, _S.COMPLETED): frozenset({_T.G, _T.H}),
    (Kind.IST, _S.CONFIRMED): frozenset({_T.I}),
    (Kind.NIST, _S.COMPLETED): frozenset({_T.J}),
}
RETRANSMIT = frozenset({Timer.A, Timer.E, Timer.G})


@dataclass(frozen=True)
class Send:
    data: bytes
    dest: Address


@dataclass(frozen=True)
class PassUp:
    response: SipResponse


@dataclass(frozen=True)
class TimedOut:
    timer: Timer


Action = Send | PassUp | TimedOut


def response_input(status: int) -> Input:
    if status < 200:
        return Input.R1XX
    return Input.R2XX if status < 300 else Input.RFINAL


@dataclass
class Transaction:
    """One transaction.  Clients carry the request they send; servers the request received."""

    kind: Kind
    request: SipRequest
    dest: Address  # where requests (client) or responses (server) go
    reliable: bool = False
    timers_config: TimerConfig = field(default_factory=TimerConfig)
    state: State = State.TERMINATED
    timers: dict[Timer, float] = field(default_factory=dict)
    intervals: dict[Timer, float] = field(default_factory=dict)
    last_response: SipResponse | None = None
    ack: bytes | None = None

    @property
    def branch(self) -> str:
        return self.request.via().branch or ""

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    def start(self, now: float) -> list[Action]:
        state, steps = START[self.kind]
        self.state = state
        return self._run(steps, None, now)

    def on_response(self, response: SipResponse, now: float) -> list[Action]:
        return self._feed(response_input(response.status), response, now)

    def on_request(self, request: SipRequest, now: float) -> list[Action]:
        """A retransmission of the request (or the ACK of an INVITE server transaction)."""
        return self._feed(Input.ACK if request.method == "ACK" else Input.REQUEST, None, now)

    def respond(self, response: SipResponse, now: float) -> list[Action]:
        """The TU's response (server transactions)."""
        status = response.status
        inp = Input.TU_1XX if status < 200 else Input.TU_2XX if status < 300 else Input.TU_FINAL
        return self._feed(inp, response, now)

    def next_deadline(self) -> float | None:
        return min(self.timers.values(), default=None)

    def on_timer(self, now: float) -> list[Action]:
        actions: list[Action] = []
        while self.timers:
            timer, deadline = min(self.timers.items(), key=lambda item: item[1])
            if deadline > now:
                break
            del self.timers[timer]
            actions += self._feed((Input.TIMER, timer), None, now)
        return actions

    def _feed(self, inp: Input | TimerInput, response: SipResponse | None, now: float) -> list[Action]:
        row = TRANSITIONS.get((self.kind, self.state, inp))
        if row is None:
            log.debug("sip transaction input ignored",
                      extra={"kind": self.kind.value, "state": self.state.value, "input": str(inp)})
            return []
        state, steps = row
        if state is not self.state:
            keep = STATE_TIMERS.get((self.kind, state), frozenset())
            self.timers = {t: d for t, d in self.timers.items() if t in keep}
            self.state = state
        if state is State.TERMINATED:
            self.timers.clear()
        fired = inp[1] if isinstance(inp, tuple) else None
        return self._run(steps, response, now, fired)

    def _run(self, steps: tuple[Step, ...], response: SipResponse | None, now: float,
             fired: Timer | None = None) -> list[Action]:
        actions: list[Action] = []
        for step in steps:
            if isinstance(step, Timer):
                self._arm(step, now)
            elif step is Effect.SEND_REQUEST:
                actions.append(Send(self.request.serialize(), self.dest))
            elif step is Effect.SEND_ACK and response is not None:
                self.ack = build_ack(self.request, response).serialize()
                actions.append(Send(self.ack, self.dest))
            elif step is Effect.RESEND_ACK and self.ack is not None:
                actions.append(Send(self.ack, self.dest))
            elif step is Effect.PASS_UP and response is not None:
                actions.append(PassUp(response))
            elif step is Effect.SEND_RESPONSE and response is not None:
                self.last_response = response
                actions.append(Send(response.serialize(), self.dest))
            elif step is Effect.RESEND_RESPONSE and self.last_response is not None:
                actions.append(Send(self.last_response.serialize(), self.dest))
            elif step is Effect.TIMEOUT:
                actions.append(TimedOut(fired or Timer.B))
        return actions

    def _arm(self, timer: Timer, now: float) -> None:
        cfg = self.timers_config
        if timer in RETRANSMIT:
            if self.reliable:
                return
            prev = self.intervals.get(timer)
            if prev is None:
                interval = cfg.t1
            elif timer is Timer.A:
                interval = prev * 2
            elif timer is Timer.E and self.state is State.PROCEEDING:
                interval = cfg.t2
            else:
                interval = min(prev * 2, cfg.t2)
            self.intervals[timer] = interval
        elif timer in (Timer.B, Timer.F, Timer.H):
            interval = 64 * cfg.t1
        elif timer is Timer.J:
            interval = 0.0 if self.reliable else 64 * cfg.t1
        elif timer is Timer.D:
            interval = 0.0 if self.reliable else max(32.0, 64 * cfg.t1)
        else:  # I, K
            interval = 0.0 if self.reliable else cfg.t4
        self.timers[timer] = now + interval


def build_ack(request: SipRequest, response: SipResponse) -> SipRequest:
    """The ACK to a non-2xx final response (RFC 3261 17.1.1.3)."""
    headers = Headers()
    headers.add("Via", request.headers.get_all("Via")[0])
    for route in request.headers.get_all("Route"):
        headers.add("Route", route)
    headers.add("Max-Forwards", "70")
    headers.add("From", request.headers.get("From") or "")
    headers.add("To", response.headers.get("To") or "")
    headers.add("Call-ID", request.headers.get("Call-ID") or "")
    headers.add("CSeq", str(CSeq(request.cseq().seq, "ACK")))
    return SipRequest(headers, b"", method="ACK", uri=request.uri)


def server_key(request: SipRequest) -> tuple[str, str, str]:
    """Server transaction key (RFC 3261 17.2.3): branch, sent-by, method (ACK as INVITE)."""
    via = request.via()
    method = "INVITE" if request.method == "ACK" else request.method
    return (via.branch or "", f"{via.host}:{via.port or 5060}", method)


def client_key(message: SipRequest | SipResponse) -> tuple[str, str]:
    """Client transaction key (RFC 3261 17.1.3): top Via branch and CSeq method."""
    return (message.via().branch or "", message.cseq().method)
