"""The user agent's core: transactions, routing, identifiers, digest retries (sans-IO).

:class:`UACore` owns the transaction table and the queues of outgoing datagrams and events.
Registration and calls build requests with it and get each final response (or None on a
timeout) through a callback; 401/407 challenges are answered here, once per challenge (a
``stale=true`` challenge is answered again with the new nonce).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import modem.sip.digest as digest
from modem.errors import ModemError
from modem.sip.errors import SipParseError
from modem.sip.events import TokenSource, UAConfig, UAEvent
from modem.sip.message import Headers, SipRequest, SipResponse, make_response
from modem.sip.transaction import (
    Action,
    Address,
    Kind,
    PassUp,
    Send,
    TimedOut,
    Transaction,
    client_key,
    server_key,
)
from modem.sip.uri import CSeq, NameAddr, SipUri, Via

log = logging.getLogger("modem.sip.ua")

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE"
SUPPORTED = "timer"
MAX_AUTH_TRIES = 3

ResponseHandler = Callable[[SipResponse | None, float], None]  # None: timed out


@dataclass
class Outgoing:
    """A request we sent and wait for, with what an authenticated retry needs."""

    request: SipRequest
    dest: Address
    handler: ResponseHandler
    next_seq: Callable[[], int]
    provisional: Callable[[SipResponse, float], None] | None = None
    auth_tries: int = 0
    answered_realms: set[str] = field(default_factory=set)
    on_resend: Callable[[SipRequest], None] | None = None


class UACore:
    def __init__(self, config: UAConfig, rng: TokenSource) -> None:
        self.config = config
        self.rng = rng
        self.clients: dict[tuple[str, str], tuple[Transaction, Outgoing]] = {}
        self.servers: dict[tuple[str, str, str], Transaction] = {}
        self.outgoing: list[tuple[bytes, Address]] = []
        self.events: list[UAEvent] = []
        self.public: Address | None = None  # learned from received/rport (RFC 3581)
        self._nonce_counts: dict[str, int] = {}

    # identifiers -------------------------------------------------------------------------
    def token(self, bits: int = 64) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def branch(self) -> str:
        return "z9hG4bK" + self.token()

    def new_call_id(self) -> str:
        return f"{self.token(96)}@{self.config.local_host}"

    # our addresses -------------------------------------------------------------------------
    def via(self) -> Via:
        cfg = self.config
        params: dict[str, str | None] = {"branch": self.branch(), "rport": None}
        host, port = cfg.public_address or (cfg.local_host, cfg.local_port)
        return Via(cfg.transport.upper(), host, port, params)

    def contact(self) -> NameAddr:
        cfg = self.config
        host, port = cfg.public_address or self.public or (cfg.local_host, cfg.local_port)
        params: dict[str, str | None] = {"transport": "tcp"} if cfg.reliable else {}
        return NameAddr(SipUri(host=host, port=port, user=cfg.contact_user or cfg.username, params=params))

    def aor(self, user: str | None = None) -> SipUri:
        return SipUri(host=self.config.domain, user=user or self.config.username)

    def learn_public(self, response: SipResponse) -> bool:
        """Take received/rport of our Via in a response as our public address; True if new."""
        try:
            via = response.via()
        except SipParseError:
            return False
        if (via.received is None and via.rport is None) or self.config.public_address is not None:
            return False
        public = (via.received or self.config.local_host, via.rport or self.config.local_port)
        current = self.public or (self.config.local_host, self.config.local_port)
        if public == current:
            return False
        self.public = public
        log.info("sip public address learned", extra={"host": public[0], "port": public[1]})
        return True

    def default_dest(self, uri: SipUri) -> Address:
        cfg = self.config
        return cfg.outbound_proxy or cfg.proxy or cfg.registrar or uri.hostport()

    # building ------------------------------------------------------------------------------
    def base_headers(self) -> Headers:
        headers = Headers()
        headers.add("Via", str(self.via()))
        headers.add("Max-Forwards", "70")
        return headers

    def common_headers(self, headers: Headers) -> None:
        headers.add("User-Agent", self.config.user_agent)
        headers.add("Allow", ALLOW)
        headers.add("Supported", SUPPORTED)

    def request(self, method: str, uri: SipUri, from_: NameAddr, to: NameAddr, call_id: str, seq: int,
                *, routes: list[str] | None = None, body: bytes = b"") -> SipRequest:
        headers = self.base_headers()
        for route in routes or []:
            headers.add("Route", route)
        headers.add("From", str(from_))
        headers.add("To", str(to))
        headers.add("Call-ID", call_id)
        headers.add("CSeq", str(CSeq(seq, method)))
        if body:
            headers.add("Content-Type", "application/sdp")
        return SipRequest(headers, body, method=method, uri=uri)

    def preloaded_routes(self) -> list[str]:
        proxy = self.config.outbound_proxy
        if proxy is None:
            return []
        params: dict[str, str | None] = {"lr": None}
        if self.config.reliable:
            params["transport"] = "tcp"
        return [str(NameAddr(SipUri(host=proxy[0], port=proxy[1], params=params)))]

    # client side -----------------------------------------------------------------------------
    def send_request(self, out: Outgoing, now: float) -> None:
        kind = Kind.ICT if out.request.method == "INVITE" else Kind.NICT
        tx = Transaction(kind, out.request, out.dest, self.config.reliable, self.config.timers)
        self.clients[client_key(out.request)] = (tx, out)
        self._apply(tx.start(now), out, now)

    def send_stateless(self, request: SipRequest, dest: Address) -> None:
        """ACK to a 2xx, CANCEL-free one-shots: no transaction."""
        self.outgoing.append((request.serialize(), dest))

    def on_response(self, response: SipResponse, now: float) -> bool:
        """Route a response to its client transaction; False if none matches."""
        entry = self.clients.get(client_key(response))
        if entry is None:
            return False
        tx, out = entry
        self._apply(tx.on_response(response, now), out, now)
        return True

    def _apply(self, actions: list[Action], out: Outgoing, now: float) -> None:
        for action in actions:
            if isinstance(action, Send):
                self.outgoing.append((action.data, action.dest))
            elif isinstance(action, PassUp):
                self._pass_up(action.response, out, now)
            elif isinstance(action, TimedOut):
                out.handler(None, now)
        self._prune()

    def _pass_up(self, response: SipResponse, out: Outgoing, now: float) -> None:
        if response.status < 200:
            if out.provisional is not None:
                out.provisional(response, now)
            return
        if response.status in (401, 407) and self._retry_with_auth(response, out, now):
            return
        out.handler(response, now)

    def _retry_with_auth(self, response: SipResponse, out: Outgoing, now: float) -> bool:
        cfg = self.config
        name = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        values = response.headers.get_all(name)
        if not values or out.auth_tries >= MAX_AUTH_TRIES or not cfg.password:
            return False
        try:
            challenge = digest.pick_challenge(values)
        except (ModemError, ValueError, KeyError) as exc:  # a challenge we cannot answer
            log.warning("sip challenge unusable", extra={"error": str(exc)})
            return False
        realm = str(challenge.realm)
        if realm in out.answered_realms and not challenge.stale:
            return False  # our credentials were refused
        out.answered_realms.add(realm)
        out.auth_tries += 1
        nonce = str(challenge.nonce)
        self._nonce_counts[nonce] = count = self._nonce_counts.get(nonce, 0) + 1
        req = out.request
        value = digest.authorization(
            challenge, method=req.method, uri=str(req.uri), username=cfg.auth_username or cfg.username,
            password=cfg.password, cnonce=self.token(), nc=count, body=req.body)
        headers = req.headers.copy()
        headers.set("Via", str(self.via()))
        headers.set("CSeq", str(CSeq(out.next_seq(), req.method)))
        header = "Authorization" if response.status == 401 else "Proxy-Authorization"
        headers.remove(header)  # replace credentials of this realm (one realm per trunk)
        headers.add(header, value)
        retry = SipRequest(headers, req.body, method=req.method, uri=req.uri)
        out.request = retry
        if out.on_resend is not None:
            out.on_resend(retry)
        self.send_request(out, now)
        return True

    # server side -----------------------------------------------------------------------------
    def server_transaction(self, request: SipRequest, source: Address, now: float) -> Transaction | None:
        """The existing server transaction of a retransmission (fed to it), or None."""
        tx = self.servers.get(server_key(request))
        if tx is not None:
            self._send_all(tx.on_request(request, now))
        return tx

    def new_server(self, request: SipRequest, source: Address, now: float) -> Transaction:
        note_source(request, source)
        kind = Kind.IST if request.method == "INVITE" else Kind.NIST
        tx = Transaction(kind, request, response_dest(request, source, self.config.reliable),
                         self.config.reliable, self.config.timers)
        tx.start(now)
        self.servers[server_key(request)] = tx
        return tx

    def respond(self, tx: Transaction, status: int, now: float, *, reason: str | None = None,
                to_tag: str | None = None, extra: list[tuple[str, str]] | None = None,
                body: bytes = b"") -> SipResponse:
        response = make_response(tx.request, status, reason, to_tag=to_tag)
        for name, value in extra or []:
            response.headers.add(name, value)
        if body:
            response.headers.add("Content-Type", "application/sdp")
        response.body = body
        self._send_all(tx.respond(response, now))
        self._prune()
        return response

    def _send_all(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self.outgoing.append((action.data, action.dest))

    # timers ------------------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        deadlines = [tx.next_deadline() for tx, _ in self.clients.values()]
        deadlines += [tx.next_deadline() for tx in self.servers.values()]
        return min((d for d in deadlines if d is not None), default=None)

    def on_timer(self, now: float) -> None:
        for tx, out in list(self.clients.values()):
            due = tx.next_deadline()
            if due is not None and due <= now:
                self._apply(tx.on_timer(now), out, now)
        for stx in list(self.servers.values()):
            due = stx.next_deadline()
            if due is not None and due <= now:
                self._send_all(stx.on_timer(now))
        self._prune()

    def _prune(self) -> None:
        self.clients = {k: v for k, v in self.clients.items() if not v[0].terminated}
        self.servers = {k: v for k, v in self.servers.items() if not v.terminated}


def note_source(request: SipRequest, source: Address) -> None:
    """Add received/rport to the top Via (RFC 3261 18.2.1, RFC 3581 4)."""
    vias = request.headers.get_all("Via")
    via = Via.parse(vias[0])
    if "rport" in via.params:
        via.params["rport"] = str(source[1])
        via.params["received"] = source[0]
    elif via.host.strip("[]") != source[0]:
        via.params["received"] = source[0]
    else:
        return
    rest = vias[1:]
    request.headers.remove("Via")
    headers = [("Via", str(via))] + [("Via", v) for v in rest]
    request.headers.items = headers + request.headers.items


def response_dest(request: SipRequest, source: Address, reliable: bool) -> Address:
    """Where responses go (RFC 3261 18.2.2 with RFC 3581): the source when rport asked or TCP."""
    via = request.via()
    if reliable or via.rport is not None:
        return source
    return (via.received or via.host.strip("[]"), via.port or 5060)
