"""Console routes and junk entries: stored, reordered, read by the router before the
configured routes, and an edit routes the next fax a line receives (a real line worker
on a real store; the line is a small driver double that delivers one page)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from modem.api import (
    CallResult,
    HangupCause,
    IncomingCall,
    LineStatus,
    PageImage,
    PageSink,
    ProgressCallback,
    ReceivedPage,
    ReceiveOptions,
    SendOptions,
)
from tests.modem.pages import encode
from umfax.config import Config, parse_config
from umfax.errors import NotFound
from umfax.lines.worker import LineWorker
from umfax.routing import CallFacts, InboundRouter
from umfax.states import InboundState
from umfax.store import Store
from umfax.store.console_routing import ConsoleRouteStore, ConsoleRouting, InvalidRoute, RouteIn
from umfax.store.models import Outbox

CALLER = "+16465550100"


def make_config(tmp_path: Path) -> Config:
    return parse_config(
        {
            "server": {"data_dir": str(tmp_path / "data")},
            "queue": {"poll_interval": "0.05s"},
            "users": [
                {"name": "ann", "email": "ann@example.com", "fax_numbers": ["+12125550150"]},
                {"name": "bob", "email": "bob@example.com"},
                {"name": "desk", "email": "desk@example.com"},
            ],
            "lines": [
                {
                    "name": "modem1",
                    "port": "/dev/null",
                    "number": "+12125550150",
                    "send": False,
                    "answer_after_rings": 1,
                }
            ],
            "routing": {"routes": [{"caller": "+1646*", "users": ["desk"]}], "junk": {"csi": ["SPAM*"]}},
        }
    )


def synced(store: Store, config: Config) -> Store:
    store.sync_users([(u.name, u.email, u.display_name, None, u.can_send) for u in config.users])
    return store


def test_routes_are_added_edited_reordered_and_deleted(store: Store, tmp_path: Path) -> None:
    rows = ConsoleRouteStore(synced(store, make_config(tmp_path)))
    first = rows.add_route(RouteIn(("ann",), caller="+1212*"))
    second = rows.add_route(RouteIn(("bob", "ann"), csi="ACME*"))
    third = rows.add_route(RouteIn(("desk",), line="modem*"))
    assert [r.id for r in rows.routes()] == [first.id, second.id, third.id]
    rows.move_route(third.id, -1)
    assert [r.id for r in rows.routes()] == [first.id, third.id, second.id]
    rows.move_route(first.id, +5)
    assert [r.id for r in rows.routes()] == [third.id, second.id, first.id]
    rows.update_route(second.id, RouteIn(("bob",), csi="ACME*", voice="reject"))
    edited = next(r for r in rows.routes() if r.id == second.id)
    assert (edited.users, edited.voice) == ("bob", "reject")
    rows.delete_route(first.id)
    assert [r.id for r in rows.routes()] == [third.id, second.id]
    with pytest.raises(NotFound):
        rows.delete_route(first.id)
    with pytest.raises(InvalidRoute, match="no user named nobody"):
        rows.add_route(RouteIn(("nobody",)))
    with pytest.raises(InvalidRoute, match="at least one user"):
        rows.add_route(RouteIn(()))
    with pytest.raises(InvalidRoute, match="not valid"):
        rows.add_route(RouteIn(("ann",), voice="sing"))
    junk = rows.add_junk("caller", " +1900* ")
    rows.add_junk("csi", "WIN*")
    assert [(j.field, j.pattern) for j in rows.junk()] == [("caller", "+1900*"), ("csi", "WIN*")]
    rows.delete_junk(junk.id)
    assert [j.pattern for j in rows.junk()] == ["WIN*"]
    with pytest.raises(InvalidRoute):
        rows.add_junk("called", "+1*")


def test_the_router_tries_console_routes_first_and_console_junk_beside_the_config(
    store: Store, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    rows = ConsoleRouteStore(synced(store, config))
    store.add_user("carol", email="carol@example.com")  # known to the store only (added in the console)
    clock = [0.0]
    source = ConsoleRouting(store, [u.name for u in config.users], ttl=2.0, clock=lambda: clock[0])
    router = InboundRouter(config, source)
    facts = CallFacts("modem1", called="+12125550150", caller=CALLER, csi="ACME")
    assert [u.name for u in router.route(facts).users] == ["desk"]  # the configured route
    route = rows.add_route(RouteIn(("carol", "bob"), caller="+1646555*"))
    assert [u.name for u in router.route(facts).users] == ["desk"]  # the snapshot is still fresh
    clock[0] = 2.5
    routed = router.route(facts)
    assert [u.name for u in routed.users] == ["carol", "bob"]
    assert routed.why == f"console route {route.id}"
    rows.add_junk("csi", "acme")
    rows.add_junk("caller", "+1900*")
    clock[0] = 5.0
    junk = router.route(facts)
    assert junk.quarantined and "console junk (station ID)" in junk.why
    assert router.reject_before_answer(CallFacts("modem1", caller="+19005550000"))
    assert router.route(CallFacts("modem1", csi="SPAM FAX")).quarantined  # the config's junk still counts


class OneFaxLine:
    """A line that rings once and delivers one page from ``caller`` with station ID ``csi``."""

    def __init__(self, caller: str, csi: str) -> None:
        self.call: IncomingCall | None = IncomingCall(caller_number=caller, called_number="+12125550150")
        self.csi = csi

    def probe(self) -> LineStatus:
        return LineStatus(ok=True, detail="test line")

    def send(
        self, dial_string: str, pages: list[PageImage], options: SendOptions, progress: ProgressCallback
    ) -> CallResult:
        raise AssertionError("this line only receives")

    def wait_for_call(self, timeout: float) -> IncomingCall | None:
        call, self.call = self.call, None
        if call is None:
            threading.Event().wait(min(timeout, 0.05))
        return call

    def receive(
        self, call: IncomingCall, options: ReceiveOptions, on_page: PageSink, progress: ProgressCallback
    ) -> CallResult:
        on_page(ReceivedPage(1, encode(Image.new("1", (1728, 40), 1), "mh", 98.0)))
        return CallResult(cause=HangupCause.OK, remote_id=self.csi, pages_done=1, encoding="mh")

    def decline(self, call: IncomingCall, reason: str) -> None:
        raise AssertionError("nothing here is junk")

    def close(self) -> None:
        pass


def receive_one(store: Store, config: Config, csi: str) -> list[str]:
    """One fax through the real line worker: the users it was delivered to."""
    before = {fax.id for fax in store.list_inbound()}
    stop = threading.Event()
    driver = OneFaxLine(CALLER, csi)
    worker = LineWorker(config.lines[0], config, store, lambda _line: driver, "test/", stop)
    worker.start()
    try:
        for _ in range(400):
            new = [f for f in store.list_inbound() if f.id not in before]
            if new and new[0].state != InboundState.RECEIVING:
                break
            stop.wait(0.025)
    finally:
        stop.set()
        worker.join(timeout=10)
    [fax] = [f for f in store.list_inbound() if f.id not in before]
    assert fax.state == InboundState.RECEIVED
    with store.reading() as session:
        rows = session.scalars(select(Outbox.target).where(Outbox.origin == f"inbound:{fax.id}"))
        return sorted(rows)


def test_an_edited_route_routes_the_next_received_fax(store: Store, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    rows = ConsoleRouteStore(synced(store, config))
    assert receive_one(store, config, "ACME") == ["desk"]  # [[routing.routes]]
    route = rows.add_route(RouteIn(("bob",), csi="ACME"))
    assert receive_one(store, config, "ACME") == ["bob"]  # a new worker reads the tables afresh
    rows.update_route(route.id, RouteIn(("ann", "bob"), csi="ACME"))
    assert receive_one(store, config, "ACME") == ["ann", "bob"]
