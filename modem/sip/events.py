"""What the user agent tells its owner (the trunk driver), and how it is configured."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from modem.sip.transaction import Address, TimerConfig

CallId = str


class TokenSource(Protocol):
    """Randomness for tags, branches, Call-IDs and cnonces (``random.Random`` fits)."""

    def getrandbits(self, k: int, /) -> int: ...


@dataclass(frozen=True)
class UAConfig:
    """One trunk: our address and transport, where the registrar/proxy is, credentials, timers.

    Addresses are (host, port) the driver can send to (IP addresses: the UA resolves nothing).
    ``outbound_proxy``, when set, receives every request we send (with a loose Route to it on
    out-of-dialog requests).  Otherwise calls go to ``proxy``, else the registrar, else the
    target URI's host.  ``public_address`` (NAT in front of us, configured) goes into Via
    and Contact instead of the local address; without it, the address the registrar saw
    (received/rport in its 2xx, RFC 3581) goes into Contact.
    """

    local_host: str
    local_port: int
    domain: str
    username: str
    transport: str = "udp"  # "udp" | "tcp"
    registrar: Address | None = None
    proxy: Address | None = None  # where calls go; None: the registrar
    outbound_proxy: Address | None = None
    public_address: Address | None = None
    auth_username: str | None = None  # default: username
    password: str = ""
    display_name: str = ""
    contact_user: str | None = None  # default: username
    register_expires: int = 3600
    register_retry: float = 30.0  # first wait after a failed REGISTER; doubles up to the max
    register_retry_max: float = 600.0
    user_agent: str = "umfax"
    keepalive_interval: float | None = 30.0  # CRLF (or OPTIONS) to the trunk; None: off
    keepalive_options: bool = False  # OPTIONS instead of CRLF keep-alives
    session_expires: int = 1800  # RFC 4028 interval we ask for; 0: no session timer
    min_se: int = 90
    timers: TimerConfig = field(default_factory=TimerConfig)

    @property
    def reliable(self) -> bool:
        return self.transport.lower() == "tcp"


@dataclass(frozen=True)
class Registered:
    expires: int


@dataclass(frozen=True)
class RegistrationFailed:
    code: int  # 408 on timeout
    reason: str


@dataclass(frozen=True)
class IncomingCall:
    call_id: CallId
    from_uri: str
    from_display: str | None
    to_uri: str
    request_uri: str
    asserted_identity: str | None  # the URI in P-Asserted-Identity, if any
    sdp: bytes
    source: Address  # where the INVITE came from (the driver checks it is allowed)


@dataclass(frozen=True)
class CallProgress:
    call_id: CallId
    code: int  # 180, 183, ...
    sdp: bytes = b""


@dataclass(frozen=True)
class CallAnswered:
    call_id: CallId
    sdp: bytes


@dataclass(frozen=True)
class CallFailed:
    """Our call was never answered: a final failure response, or no response (408)."""

    call_id: CallId
    code: int
    reason: str


@dataclass(frozen=True)
class ReInviteReceived:
    """Their re-INVITE with a new offer: answer with accept_reinvite or reject_reinvite."""

    call_id: CallId
    sdp: bytes


@dataclass(frozen=True)
class ReInviteAccepted:
    call_id: CallId
    sdp: bytes  # their answer


@dataclass(frozen=True)
class ReInviteRejected:
    call_id: CallId
    code: int


@dataclass(frozen=True)
class CallEnded:
    """Every call that is not a CallFailed ends with exactly one of these."""

    call_id: CallId
    reason: str  # "bye", "cancelled", "rejected", "session expired", "no ack", "timeout", ...
    by_remote: bool


@dataclass(frozen=True)
class TransferAccepted:
    """The far end took our REFER (202, or a first NOTIFY): it is calling the target."""

    call_id: CallId


@dataclass(frozen=True)
class TransferEnded:
    """How our REFER ended, once per :meth:`~modem.sip.ua.UserAgent.refer`: ``ok`` when the
    target answered (a final 2xx sipfrag); otherwise ``code`` is the REFER's failure response
    (408 when unanswered), the target's final failure status, or 408 when no final NOTIFY
    came in time (487 when the subscription ended without a final status)."""

    call_id: CallId
    ok: bool
    code: int
    reason: str


UAEvent = (Registered | RegistrationFailed | IncomingCall | CallProgress | CallAnswered | CallFailed
           | ReInviteReceived | ReInviteAccepted | ReInviteRejected | CallEnded
           | TransferAccepted | TransferEnded)
