"""A call: its dialog (RFC 3261 section 12) and the two state machines that drive it.

``CALL_TRANSITIONS`` is the life of the call (INVITE, answer, CANCEL, BYE);
``REINVITE_TRANSITIONS`` is the offer/answer exchange inside a confirmed call (re-INVITE
both ways, 491 glare).  Both are tables of (state, input) -> state; an input missing from a
table is not allowed in that state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from modem.sip.message import SipRequest
from modem.sip.transaction import Address, Transaction
from modem.sip.uri import NameAddr, SipUri


class CallState(enum.Enum):
    CALLING = "calling"  # our INVITE sent, nothing back yet
    EARLY = "early"  # our INVITE got a provisional response
    CANCELLING = "cancelling"  # we hung up a call not yet answered
    INCOMING = "incoming"  # their INVITE, 100 sent, the app decides
    ANSWERED = "answered"  # we sent 200, waiting for the ACK
    HANGUP_AFTER_ACK = "hang up after ack"  # the app hung up before the ACK came
    CONFIRMED = "confirmed"
    TERMINATING = "terminating"  # our BYE sent
    ENDED = "ended"


class CallInput(enum.Enum):
    RX_1XX = "provisional"
    RX_2XX = "2xx"
    RX_FAILURE = "failure"
    RX_CANCEL = "cancel"
    RX_ACK = "ack"
    RX_BYE = "bye"
    TIMEOUT = "timeout"
    APP_RINGING = "ringing"
    APP_ANSWER = "answer"
    APP_REJECT = "reject"
    APP_HANGUP = "hangup"
    DIALOG_GONE = "dialog gone"  # 2xx never ACKed, session expired, 481/408 in dialog
    BYE_DONE = "bye done"


_C = CallState
_CI = CallInput
CALL_TRANSITIONS: dict[tuple[CallState, CallInput], CallState] = {
    (_C.CALLING, _CI.RX_1XX): _C.EARLY,
    (_C.CALLING, _CI.RX_2XX): _C.CONFIRMED,
    (_C.CALLING, _CI.RX_FAILURE): _C.ENDED,
    (_C.CALLING, _CI.TIMEOUT): _C.ENDED,
    (_C.CALLING, _CI.APP_HANGUP): _C.CANCELLING,
    (_C.EARLY, _CI.RX_1XX): _C.EARLY,
    (_C.EARLY, _CI.RX_2XX): _C.CONFIRMED,
    (_C.EARLY, _CI.RX_FAILURE): _C.ENDED,
    (_C.EARLY, _CI.TIMEOUT): _C.ENDED,
    (_C.EARLY, _CI.APP_HANGUP): _C.CANCELLING,
    (_C.CANCELLING, _CI.RX_1XX): _C.CANCELLING,
    (_C.CANCELLING, _CI.RX_2XX): _C.TERMINATING,  # 200 crossed our CANCEL: ACK, then BYE
    (_C.CANCELLING, _CI.RX_FAILURE): _C.ENDED,
    (_C.CANCELLING, _CI.TIMEOUT): _C.ENDED,
    (_C.CANCELLING, _CI.APP_HANGUP): _C.CANCELLING,
    (_C.INCOMING, _CI.APP_RINGING): _C.INCOMING,
    (_C.INCOMING, _CI.APP_ANSWER): _C.ANSWERED,
    (_C.INCOMING, _CI.APP_REJECT): _C.ENDED,
    (_C.INCOMING, _CI.APP_HANGUP): _C.ENDED,
    (_C.INCOMING, _CI.RX_CANCEL): _C.ENDED,
    (_C.ANSWERED, _CI.RX_ACK): _C.CONFIRMED,
    (_C.ANSWERED, _CI.RX_BYE): _C.ENDED,
    (_C.ANSWERED, _CI.APP_HANGUP): _C.HANGUP_AFTER_ACK,
    (_C.ANSWERED, _CI.DIALOG_GONE): _C.TERMINATING,
    (_C.HANGUP_AFTER_ACK, _CI.RX_ACK): _C.TERMINATING,
    (_C.HANGUP_AFTER_ACK, _CI.DIALOG_GONE): _C.TERMINATING,
    (_C.HANGUP_AFTER_ACK, _CI.RX_BYE): _C.ENDED,
    (_C.HANGUP_AFTER_ACK, _CI.APP_HANGUP): _C.HANGUP_AFTER_ACK,
    (_C.CONFIRMED, _CI.APP_HANGUP): _C.TERMINATING,
    (_C.CONFIRMED, _CI.RX_BYE): _C.ENDED,
    (_C.CONFIRMED, _CI.DIALOG_GONE): _C.TERMINATING,
    (_C.TERMINATING, _CI.RX_BYE): _C.TERMINATING,
    (_C.TERMINATING, _CI.APP_HANGUP): _C.TERMINATING,
    (_C.TERMINATING, _CI.BYE_DONE): _C.ENDED,
}


class ReState(enum.Enum):
    IDLE = "idle"
    OUT_PENDING = "our re-INVITE pending"
    OUT_RETRY_WAIT = "waiting to retry after 491"
    IN_PENDING = "their re-INVITE, app to answer"
    IN_ANSWERED = "their re-INVITE answered, waiting for ACK"


class ReInput(enum.Enum):
    APP_REINVITE = "app re-INVITE"
    RETRY_DUE = "491 retry due"
    RX_REINVITE = "their re-INVITE"
    RX_REFRESH = "their refresh (same SDP)"
    RX_2XX = "2xx to ours"
    RX_491 = "491 to ours"
    RX_FAILURE = "other failure to ours"
    APP_ACCEPT = "app accepts theirs"
    APP_REJECT = "app rejects theirs"
    RX_ACK = "ack"
    APP_WITHDRAW = "app withdraws its offer waiting to be retried"


_R = ReState
_RI = ReInput
REINVITE_TRANSITIONS: dict[tuple[ReState, ReInput], ReState] = {
    (_R.IDLE, _RI.APP_REINVITE): _R.OUT_PENDING,
    (_R.IDLE, _RI.RETRY_DUE): _R.OUT_PENDING,
    (_R.IDLE, _RI.RX_REINVITE): _R.IN_PENDING,
    (_R.IDLE, _RI.RX_REFRESH): _R.IN_ANSWERED,
    (_R.OUT_PENDING, _RI.RX_2XX): _R.IDLE,
    (_R.OUT_PENDING, _RI.RX_491): _R.OUT_RETRY_WAIT,
    (_R.OUT_PENDING, _RI.RX_FAILURE): _R.IDLE,
    (_R.OUT_RETRY_WAIT, _RI.APP_REINVITE): _R.OUT_RETRY_WAIT,
    (_R.OUT_RETRY_WAIT, _RI.RETRY_DUE): _R.OUT_PENDING,
    (_R.OUT_RETRY_WAIT, _RI.RX_REINVITE): _R.IN_PENDING,  # theirs first; ours retried after
    (_R.OUT_RETRY_WAIT, _RI.RX_REFRESH): _R.IN_ANSWERED,
    (_R.OUT_RETRY_WAIT, _RI.APP_WITHDRAW): _R.IDLE,
    (_R.IN_PENDING, _RI.APP_ACCEPT): _R.IN_ANSWERED,
    (_R.IN_PENDING, _RI.APP_REJECT): _R.IDLE,
    (_R.IN_ANSWERED, _RI.RX_ACK): _R.IDLE,
    (_R.IN_ANSWERED, _RI.RX_REINVITE): _R.IN_PENDING,
    (_R.IN_ANSWERED, _RI.RX_REFRESH): _R.IN_ANSWERED,
}


@dataclass
class Pending2xx:
    """Our 2xx to an INVITE, retransmitted until the ACK comes (RFC 3261 13.3.1.4)."""

    data: bytes
    dest: Address
    seq: int
    resend_at: float
    interval: float
    give_up_at: float


@dataclass
class Call:
    call_id: str
    outgoing: bool  # we sent the initial INVITE (we own the Call-ID, for 491 timing)
    local: NameAddr  # our From (outgoing) / To (incoming), with our tag
    remote: NameAddr  # their side; its tag once known
    state: CallState
    remote_target: SipUri | None = None
    route_set: list[str] = field(default_factory=list)
    local_seq: int = 0
    remote_seq: int | None = None
    invite: SipRequest | None = None  # our current INVITE (outgoing) or theirs (incoming)
    invite_tx: Transaction | None = None  # the INVITE server transaction (incoming)
    invite_dest: Address | None = None  # where our INVITE went (CANCEL follows it)
    cancel_pending: bool = False  # hang up asked before any provisional response
    local_sdp: bytes = b""
    remote_sdp: bytes = b""
    remote_allow: set[str] = field(default_factory=set)
    acks: dict[int, bytes] = field(default_factory=dict)  # our ACK per CSeq, for 2xx retransmissions
    pending_2xx: Pending2xx | None = None
    re_state: ReState = ReState.IDLE
    re_offer: bytes = b""  # our pending re-INVITE offer
    re_refresh: bool = False  # our pending re-INVITE is a session refresh (no events)
    re_in_tx: Transaction | None = None  # their re-INVITE awaiting the app
    retry_at: float | None = None
    retries: int = 0
    session_interval: int = 0  # RFC 4028; 0: no session timer
    refresher_is_us: bool = False
    session_deadline: float | None = None
    purge_at: float | None = None
    auth_headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def local_tag(self) -> str:
        return self.local.tag or ""

    @property
    def remote_tag(self) -> str | None:
        return self.remote.tag

    def next_seq(self) -> int:
        self.local_seq += 1
        return self.local_seq

    def move(self, inp: CallInput) -> bool:
        nxt = CALL_TRANSITIONS.get((self.state, inp))
        if nxt is None:
            return False
        self.state = nxt
        return True

    def move_re(self, inp: ReInput) -> bool:
        nxt = REINVITE_TRANSITIONS.get((self.re_state, inp))
        if nxt is None:
            return False
        self.re_state = nxt
        return True

    def deadlines(self) -> list[float]:
        out = [self.retry_at, self.session_deadline, self.purge_at]
        if self.pending_2xx is not None:
            out.append(self.pending_2xx.resend_at)
        return [d for d in out if d is not None]


def sdp_origin(sdp: bytes) -> bytes | None:
    """The ``o=`` line of an SDP body (a refresh repeats it unchanged, RFC 3264 8)."""
    for line in sdp.splitlines():
        if line.startswith(b"o="):
            return line.strip()
    return None
