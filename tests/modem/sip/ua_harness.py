"""In-memory SIP network for UserAgent tests: UAs, a digest registrar stub, a record-routing proxy.

Messages are delivered at once (no latency) unless a drop rule says otherwise; time only
moves to the next deadline when nothing is in flight.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from modem.sip.events import UAConfig, UAEvent
from modem.sip.message import SipRequest, SipResponse, make_response, parse_message
from modem.sip.transaction import Address
from modem.sip.ua import UserAgent
from modem.sip.uri import NameAddr, SipUri, Via

Handler = Callable[[bytes, Address, float], list[tuple[bytes, Address]]]


def sdp(version: int, media: str = "audio") -> bytes:
    m = "m=audio 4000 RTP/AVP 0" if media == "audio" else "m=image 4002 udptl t38"
    return (f"v=0\r\no=umfax 1 {version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"{m}\r\n").encode()


def config(host: str, port: int, **kw: object) -> UAConfig:
    base: dict[str, object] = {"local_host": host, "local_port": port, "domain": "trunk.test",
                               "username": "fax", "password": "secret", "keepalive_interval": None}
    base.update(kw)
    return UAConfig(**base)  # type: ignore[arg-type]


@dataclass
class Net:
    now: float = 0.0
    uas: dict[Address, UserAgent] = field(default_factory=dict)
    stubs: dict[Address, Handler] = field(default_factory=dict)
    events: dict[Address, list[UAEvent]] = field(default_factory=dict)
    wire: list[tuple[float, Address, Address, bytes]] = field(default_factory=list)
    drop: Callable[[bytes, Address, Address], bool] | None = None
    on_event: Callable[[Net, Address, UAEvent], None] | None = None

    def add_ua(self, cfg: UAConfig, seed: int) -> UserAgent:
        ua = UserAgent(cfg, random.Random(seed))
        self.uas[(cfg.local_host, cfg.local_port)] = ua
        self.events[(cfg.local_host, cfg.local_port)] = []
        return ua

    def deliver(self, data: bytes, source: Address, dest: Address) -> None:
        self.wire.append((self.now, source, dest, data))
        if self.drop is not None and self.drop(data, source, dest):
            return
        if dest in self.uas:
            self.uas[dest].receive(data, source, self.now)
        elif dest in self.stubs:
            for out, to in self.stubs[dest](data, source, self.now):
                self.deliver(out, dest, to)

    def settle(self) -> None:
        for _ in range(1000):
            moved = False
            for addr, ua in list(self.uas.items()):
                for data, dest in ua.take_outgoing():
                    moved = True
                    self.deliver(data, addr, dest)
                for event in ua.take_events():
                    moved = True
                    self.events[addr].append(event)
                    if self.on_event is not None:
                        self.on_event(self, addr, event)
            if not moved:
                return
        raise AssertionError("the network never settled")

    def run(self, until: float) -> None:
        self.settle()
        while True:
            deadlines = [d for ua in self.uas.values() if (d := ua.next_deadline()) is not None]
            if not deadlines or min(deadlines) > until:
                break
            self.now = max(self.now, min(deadlines))
            for ua in self.uas.values():
                due = ua.next_deadline()
                if due is not None and due <= self.now:
                    ua.on_timer(self.now)
            self.settle()
        self.now = max(self.now, until)

    def sent(self, source: Address | None = None, start: str = "") -> list[bytes]:
        return [d for _, s, _, d in self.wire
                if (source is None or s == source) and d.startswith(start.encode())]


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@dataclass
class Registrar:
    """REGISTER with digest (MD5, qop=auth), checked independently of the UA's code."""

    password: str = "secret"
    realm: str = "trunk.test"
    expires: int = 60
    stale_next: bool = False  # answer the next good credentials with stale=true
    public: Address | None = None  # what received/rport say (a NAT in front of the UA)
    nonce_no: int = 0
    accepted: list[str] = field(default_factory=list)  # Contact of each accepted REGISTER
    challenged: int = 0

    def __call__(self, data: bytes, source: Address, now: float) -> list[tuple[bytes, Address]]:
        if not data.strip():
            return []  # keep-alive
        msg = parse_message(data)
        if not isinstance(msg, SipRequest):
            return []
        if msg.method != "REGISTER":
            return [(make_response(msg, 200, to_tag="reg").serialize(), source)]
        auth = msg.headers.get("Authorization")
        valid = auth is not None and self._valid(msg, auth)
        if not valid or self.stale_next:
            stale = valid and self.stale_next
            self.stale_next = self.stale_next and not valid
            self.challenged += 1
            self.nonce_no += 1
            resp = make_response(msg, 401, to_tag="reg")
            resp.headers.add("WWW-Authenticate", f'Digest realm="{self.realm}", nonce="n{self.nonce_no}", '
                             f'qop="auth", algorithm=MD5{", stale=true" if stale else ""}')
        else:
            resp = make_response(msg, 200, to_tag="reg")
            contact = msg.headers.get("Contact") or ""
            self.accepted.append(contact)
            resp.headers.add("Contact", re.sub(r";expires=\d+", "", contact) + f";expires={self.expires}")
        if self.public is not None:
            via = Via.parse(resp.headers.get_all("Via")[0])
            via.params["received"], via.params["rport"] = self.public[0], str(self.public[1])
            vias = resp.headers.get_all("Via")
            resp.headers.remove("Via")
            resp.headers.items = [("Via", str(via))] + [("Via", v) for v in vias[1:]] + resp.headers.items
        return [(resp.serialize(), source)]

    def _valid(self, msg: SipRequest, auth: str) -> bool:
        f = {k: a or b for k, a, b in re.findall(r'(\w+)="?(?:([^",]*)"|([^,\s]*))', auth)}
        if f.get("nonce") != f"n{self.nonce_no}":
            return False
        ha1 = md5(f"{f['username']}:{self.realm}:{self.password}")
        ha2 = md5(f"{msg.method}:{f['uri']}")
        return f["response"] == md5(f"{ha1}:{f['nonce']}:{f['nc']}:{f['cnonce']}:auth:{ha2}")


@dataclass
class RecordRouteProxy:
    """A stateless proxy that record-routes (like kamailio with record_route()); UAs by user."""

    addr: Address
    users: dict[str, Address]
    seen: list[str] = field(default_factory=list)  # methods that crossed it
    branch_no: int = 0

    def __call__(self, data: bytes, source: Address, now: float) -> list[tuple[bytes, Address]]:
        msg = parse_message(data)
        me = f"{self.addr[0]}:{self.addr[1]}"
        if isinstance(msg, SipResponse):
            vias = msg.headers.get_all("Via")
            rest = vias[1:]
            msg.headers.remove("Via")
            msg.headers.items = [("Via", v) for v in rest] + msg.headers.items
            nxt = Via.parse(rest[0])
            return [(msg.serialize(), (nxt.received or nxt.host, nxt.rport or nxt.port or 5060))]
        self.seen.append(msg.method)
        routes = msg.headers.get_all("Route")
        if routes and me in routes[0]:
            routes = routes[1:]
        msg.headers.remove("Route")
        for r in routes:
            msg.headers.add("Route", r)
        if msg.method == "INVITE" and msg.to().tag is None:
            msg.headers.add("Record-Route", f"<sip:{me};lr>")
        top = Via.parse(msg.headers.get_all("Via")[0])
        top.params["received"] = source[0]
        if "rport" in top.params:
            top.params["rport"] = str(source[1])
        self.branch_no += 1
        own = f"SIP/2.0/UDP {me};branch=z9hG4bKpx{self.branch_no}"
        vias = [own, str(top), *msg.headers.get_all("Via")[1:]]
        msg.headers.remove("Via")
        msg.headers.items = [("Via", v) for v in vias] + msg.headers.items
        if routes:
            dest = NameAddr.parse(routes[0]).uri.hostport()
        elif msg.uri.user in self.users and msg.uri.host == "trunk.test":
            dest = self.users[msg.uri.user]
        else:
            dest = SipUri.parse(str(msg.uri)).hostport()
        return [(msg.serialize(), dest)]
