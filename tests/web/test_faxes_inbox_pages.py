"""/faxes and /inbox against the real server over a real store: each person reaches only
their own faxes through every route (others' answer 404), admins everything; live status
arrives by server-sent events, only to the fax's owner; page images, downloads, actions."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.web_seed import Seeded, seed
from tests.api.conftest import USERS
from tests.web.signin import csrf_token, signed_in
from umfax.api.server import ApiServer
from umfax.config import Config, parse_config
from umfax.store import AudioIn, Store
from umfax.store.database import make_engine

pytestmark = pytest.mark.timeout(120)


@dataclass
class Console:
    """The server, its store and config (what tests/web/signin.py needs), signed-in sessions."""

    url: str
    store: Store
    config: Config
    seeded: Seeded
    sessions: dict[str, tuple[requests.Session, str]] = field(default_factory=dict)

    def session(self, who: str) -> tuple[requests.Session, str]:
        """``who`` signed in through the real form, and their session's CSRF token."""
        if who not in self.sessions:
            session = signed_in(self, who)  # type: ignore[arg-type]
            self.sessions[who] = (session, csrf_token(session, self))  # type: ignore[arg-type]
        return self.sessions[who]

    def get(self, who: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session(who)[0].get(self.url + path, timeout=30, allow_redirects=False, **kwargs)

    def post(self, who: str, path: str, data: dict[str, str] | None = None) -> requests.Response:
        session, token = self.session(who)
        form = (data or {}) | {"csrf_token": token}
        return session.post(self.url + path, data=form, timeout=30, allow_redirects=False)


@pytest.fixture
def console(tmp_path: Path, store_url: str, request: pytest.FixtureRequest) -> Iterator[Console]:
    """``@pytest.mark.console_settings({...})`` adds to the server's configuration."""
    marker = request.node.get_closest_marker("console_settings")
    config = parse_config(
        {
            "server": {"data_dir": str(tmp_path / "data")},
            "store": {"url": store_url},
            "fax": {"cover": False},
            "users": USERS,
            "api": {"listen": "127.0.0.1:0"},
        }
        | (marker.args[0] if marker else {})
    )
    store = Store(make_engine(store_url))
    store.sync_users([(u["name"], u["email"], "", None, True) for u in USERS])
    seeded = seed(store, 40, ["ann", "bob"])
    server = ApiServer(config, store)
    server.start()
    yield Console(f"http://127.0.0.1:{server.port}", store, config, seeded)
    server.stop()
    store.close()


def _ids(html: str, prefix: str) -> set[int]:
    return {int(n) for n in re.findall(rf'href="/{prefix}/(\d+)"', html)}


def test_sent_faxes_are_scoped_on_every_route(console: Console) -> None:
    ann_job, bob_job = console.seeded.sample_job["ann"], console.seeded.sample_job["bob"]
    listed = console.get("ann", "/faxes")
    assert listed.status_code == 200 and ann_job in _ids(listed.text, "faxes")
    assert bob_job not in _ids(listed.text, "faxes")
    assert bob_job in _ids(console.get("root", "/faxes").text, "faxes")
    assert requests.get(console.url + "/faxes", timeout=30, allow_redirects=False).status_code == 303
    detail = console.get("ann", f"/faxes/{ann_job}")
    assert detail.status_code == 200 and "Calls" in detail.text and "Resend to another number" in detail.text
    for path in (
        f"/faxes/{bob_job}",
        f"/faxes/{bob_job}/pages/1.png",
        f"/faxes/{bob_job}/pages/1.png?size=thumb",
        f"/faxes/{bob_job}/pdf",
        f"/faxes/{bob_job}/report",
        f"/faxes/events?job={bob_job}",
    ):
        assert console.get("ann", path).status_code == 404, path
        assert console.get("bob", path, stream=True).status_code == 200, path
    for action, data in (("cancel", {}), ("retry", {}), ("resend", {"number": "+12125550111"})):
        assert console.post("ann", f"/faxes/{bob_job}/{action}", data).status_code == 404, action
    thumb = console.get("ann", f"/faxes/{ann_job}/pages/1.png?size=thumb")
    assert thumb.headers["content-type"] == "image/png" and thumb.headers["cache-control"].startswith(
        "private"
    )
    again = console.get(
        "ann", f"/faxes/{ann_job}/pages/1.png?size=thumb", headers={"If-None-Match": thumb.headers["etag"]}
    )
    assert again.status_code == 304
    assert console.get("ann", f"/faxes/{ann_job}/pdf").content.startswith(b"%PDF")
    assert b"Subject:" in console.get("ann", f"/faxes/{ann_job}/report").content


def test_resend_makes_a_new_job_of_the_same_documents(console: Console) -> None:
    from umfax.store import DocumentIn, JobSpec

    job = console.store.submit(
        JobSpec(number="+12125550100", user_id=console.seeded.users["ann"]), [DocumentIn("a.txt", b"hi")]
    )
    made = console.post("ann", f"/faxes/{job.id}/resend", {"number": "+1 212 555 0112"})
    assert made.status_code == 303, made.text
    new_id = int(made.headers["location"].rsplit("/", 1)[1])
    assert new_id != job.id and console.store.get_job(new_id).number == "+12125550112"
    assert [d.filename for d in console.store.documents(new_id)] == ["a.txt"]
    cancelled = console.post("ann", f"/faxes/{new_id}/cancel")
    assert cancelled.status_code == 303 and console.store.get_job(new_id).state == "cancelled"
    session, _ = console.session("ann")
    refused = session.post(console.url + f"/faxes/{job.id}/cancel", timeout=30, allow_redirects=False)
    assert refused.status_code == 403  # no CSRF token


def test_live_status_reaches_only_the_owner_within_half_a_second(console: Console) -> None:
    ann_job, bob_job = console.seeded.sample_job["ann"], console.seeded.sample_job["bob"]
    received: dict[str, list[tuple[float, dict[str, object]]]] = {"ann": [], "bob": []}

    ready = {"ann": threading.Event(), "bob": threading.Event()}

    def listen(who: str) -> None:
        with console.get(who, "/faxes/events", stream=True) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines(decode_unicode=True):
                if line.startswith(": connected"):
                    ready[who].set()
                if line.startswith("data: "):
                    received[who].append((time.monotonic(), json.loads(line[6:])))
                    if len(received[who]) >= 2:
                        return

    for who in ready:
        console.session(who)  # signed in before listening (Argon2 takes a moment)
    threads = [threading.Thread(target=listen, args=(who,), daemon=True) for who in ready]
    for thread in threads:
        thread.start()
    assert all(event.wait(10) for event in ready.values())
    at = time.monotonic()
    console.store.log_event("note", "hello ann", job_id=ann_job)
    console.store.log_event("note", "hello bob", job_id=bob_job)
    console.store.log_event("note", "again bob", job_id=bob_job)
    console.store.log_event("note", "again ann", job_id=ann_job)
    for thread in threads:
        thread.join(timeout=10)
    assert [u["job"] for _, u in received["ann"]] == [ann_job, ann_job]
    assert [u["job"] for _, u in received["bob"]] == [bob_job, bob_job]
    assert received["ann"][0][0] - at <= 0.5


def test_inbox_is_scoped_on_every_route(console: Console) -> None:
    ann_fax, bob_fax = console.seeded.sample_inbound["ann"], console.seeded.sample_inbound["bob"]
    listed = console.get("ann", "/inbox")
    assert listed.status_code == 200 and ann_fax in _ids(listed.text, "inbox")
    assert (
        bob_fax not in _ids(listed.text, "inbox")
        and f"/inbox/{ann_fax}/pages/1.png?size=thumb" in listed.text
    )
    assert bob_fax in _ids(console.get("root", "/inbox").text, "inbox")
    for path in (
        f"/inbox/{bob_fax}",
        f"/inbox/{bob_fax}/pages/1.png",
        f"/inbox/{bob_fax}/pages/1.png?size=thumb",
        f"/inbox/{bob_fax}/pdf",
        f"/inbox/{bob_fax}/audio",
    ):
        assert console.get("ann", path).status_code == 404, path
    for action, data in (
        ("read", {"read": "1"}),
        ("note", {"note": "mine now"}),
        ("tags", {"tag": "x"}),
        ("assign", {"assignee": str(console.seeded.users["ann"])}),
        ("forward", {"to_user": "ann"}),
        ("forward", {"number": "+12125550111"}),
        ("remove", {}),
        ("delete", {}),
    ):
        assert console.post("ann", f"/inbox/{bob_fax}/{action}", data).status_code == 404, action
    page = console.get("bob", f"/inbox/{bob_fax}")
    assert page.status_code == 200 and "Page 1 of 1" in page.text
    assert all(n in _ids(console.get("bob", "/inbox").text, "inbox") for n in _ids(page.text, "inbox"))
    full = console.get("bob", f"/inbox/{bob_fax}/pages/1.png")
    assert full.status_code == 200 and full.content.startswith(b"\x89PNG")
    assert console.get("bob", f"/inbox/{bob_fax}/pdf").content.startswith(b"%PDF")


def test_inbox_actions_and_search(console: Console) -> None:
    fax = console.seeded.sample_inbound["ann"]
    assert console.post("ann", f"/inbox/{fax}/tags", {"tag": "Tax"}).status_code == 303
    assert console.post("ann", f"/inbox/{fax}/note", {"note": "pay by Friday"}).status_code == 303
    page = console.get("ann", f"/inbox/{fax}").text
    assert "pay by Friday" in page and ">tax<" in page
    assert _read(console, fax)  # opened: read
    assert console.post("ann", f"/inbox/{fax}/read", {"read": "0"}).status_code == 303
    assert not _read(console, fax)
    assert _ids(console.get("ann", "/inbox?tag=tax").text, "inbox") >= {fax}
    assert fax not in _ids(console.get("bob", "/inbox?tag=tax").text, "inbox")
    caller = console.store.get_inbound(fax).caller_number
    assert fax in _ids(console.get("ann", f"/inbox?number={caller[-6:]}").text, "inbox")
    forwarded = console.post("ann", f"/inbox/{fax}/forward", {"to_user": "bob"})
    assert forwarded.status_code == 303 and fax in _ids(console.get("bob", "/inbox").text, "inbox")
    by_fax = console.post("ann", f"/inbox/{fax}/forward", {"number": "+1 212 555 0113"})
    assert by_fax.status_code == 303 and by_fax.headers["location"].startswith("/faxes/")
    job = console.store.get_job(int(by_fax.headers["location"].rsplit("/", 1)[1]))
    assert job.number == "+12125550113" and console.store.documents(job.id)[0].filename.endswith(".tif")
    assert console.post("ann", f"/inbox/{fax}/delete").status_code == 403  # for administrators
    assert console.post("ann", f"/inbox/{fax}/remove").status_code == 303
    assert console.get("ann", f"/inbox/{fax}").status_code == 404
    assert console.get("root", f"/inbox/{fax}").status_code == 200  # only out of ann's inbox
    assert console.post("root", f"/inbox/{fax}/delete").status_code == 303
    assert console.get("root", f"/inbox/{fax}").status_code == 404  # gone from every inbox
    actions = {e.action for e in _audit(console)}
    assert {"view", "forward", "delete"} <= actions


def _read(console: Console, fax: int, who: str = "ann") -> bool:
    from umfax.store.console_models import InboundMark

    with console.store.reading() as session:
        mark = session.get(InboundMark, (fax, _user_id(console, who)))
        return mark is not None and mark.read_at is not None


def _user_id(console: Console, name: str) -> int:
    from sqlalchemy import select

    from umfax.store.models import User

    with console.store.reading() as session:
        return int(session.scalar(select(User.id).where(User.name == name)) or 0)


def _api_list(console: Console, who: str) -> set[int]:
    from umfax.store.api_keys import ApiKeyStore

    key = ApiKeyStore(console.store).create(who)[1]
    answer = requests.get(
        console.url + "/api/v1/inbound?limit=500", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert answer.status_code == 200
    return {fax["id"] for fax in answer.json()["faxes"]}


def test_two_people_sharing_a_fax_read_and_remove_it_each_for_themselves(console: Console) -> None:
    from umfax.store import PageIn

    call = console.store.start_inbound("line1", caller_number="+12125550142")
    page = console.store.inbound_pages(console.seeded.sample_inbound["ann"])[0]
    console.store.add_inbound_page(
        call.id, 1, PageIn(page.data, page.width, page.length, page.x_res, page.y_res, page.encoding)
    )
    console.store.finish_inbound(call.id, result="ok", deliver_to=["ann", "bob"])
    fax = call.id
    row = re.compile(rf'<tr class="(read|unread)">(?:(?!</tr>).)*?href="/inbox/{fax}"', re.S)
    assert row.search(console.get("bob", "/inbox").text).group(1) == "unread"  # type: ignore[union-attr]
    assert console.get("ann", f"/inbox/{fax}").status_code == 200  # opened: read for ann only
    assert _read(console, fax, "ann") and not _read(console, fax, "bob")
    assert row.search(console.get("ann", "/inbox").text).group(1) == "read"  # type: ignore[union-attr]
    assert row.search(console.get("bob", "/inbox").text).group(1) == "unread"  # type: ignore[union-attr]
    assert console.post("ann", f"/inbox/{fax}/note", {"note": "shared note"}).status_code == 303
    bob_page = console.get("bob", f"/inbox/{fax}").text
    assert "shared note" in bob_page and "Remove from my inbox" in bob_page
    assert "Delete for everyone" not in bob_page
    assert "Delete for everyone" in console.get("root", f"/inbox/{fax}").text
    assert console.post("ann", f"/inbox/{fax}/read", {"read": "0"}).status_code == 303
    assert not _read(console, fax, "ann") and _read(console, fax, "bob")
    assert console.post("ann", f"/inbox/{fax}/remove").status_code == 303
    assert console.get("ann", f"/inbox/{fax}").status_code == 404
    assert console.get("ann", f"/inbox/{fax}/pages/1.png").status_code == 404
    assert fax not in _ids(console.get("ann", "/inbox").text, "inbox")
    assert fax not in _api_list(console, "ann")
    assert console.get("bob", f"/inbox/{fax}").status_code == 200
    assert fax in _ids(console.get("bob", "/inbox").text, "inbox") and fax in _api_list(console, "bob")
    assert console.post("bob", f"/inbox/{fax}/delete").status_code == 403
    assert console.post("root", f"/inbox/{fax}/delete").status_code == 303
    for who in ("ann", "bob", "root"):
        assert console.get(who, f"/inbox/{fax}").status_code == 404
        assert fax not in _ids(console.get(who, "/inbox").text, "inbox")
    assert fax not in _api_list(console, "bob")
    assert console.store.get_inbound(fax) is not None  # kept for retention and the audit


def _audit(console: Console) -> list[object]:
    from umfax.store.audit import AuditLog

    return list(AuditLog(console.store).entries(limit=100))


def test_voice_message_has_a_player_for_its_user_only(console: Console) -> None:
    call = console.store.start_inbound("sip1", caller_number="+12125550177")
    wav = b"RIFF" + b"\x00" * 40
    console.store.finish_inbound(
        call.id, result="ok", deliver_to=["ann"], kind="voice", audio=AudioIn(wav=wav, seconds=3.0)
    )
    page = console.get("ann", f"/inbox/{call.id}")
    assert (
        page.status_code == 200
        and f'<audio controls preload="metadata" src="/inbox/{call.id}/audio"' in page.text
    )
    audio = console.get("ann", f"/inbox/{call.id}/audio")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav" and audio.content == wav
    assert console.get("bob", f"/inbox/{call.id}/audio").status_code == 404
    assert console.get("bob", f"/inbox/{call.id}").status_code == 404


@pytest.mark.console_settings({"mail": {"smtp_host": "127.0.0.1", "smtp_tls": "none"}})
def test_forward_by_email_queues_a_mail_to_the_address_and_refuses_a_bad_one(console: Console) -> None:
    from umfax.store.outbox import OutboxStore

    fax = console.seeded.sample_inbound["ann"]
    bad = console.post("ann", f"/inbox/{fax}/forward", {"email": "not an address"})
    assert bad.status_code == 422 and "is not an email address" in bad.text
    assert console.post("bob", f"/inbox/{fax}/forward", {"email": "x@partner.example"}).status_code == 404
    sent = console.post("ann", f"/inbox/{fax}/forward", {"email": "accounts@partner.example"})
    assert sent.status_code == 303
    forwards = [i for i in OutboxStore(console.store).items() if i.channel == "forward"]
    assert [(i.target, i.payload) for i in forwards] == [("accounts@partner.example", {"inbound": fax})]
    assert any(e.detail == "by email to accounts@partner.example" for e in _audit(console))  # type: ignore[attr-defined]


def test_forward_by_email_says_when_the_server_has_no_mail_server(console: Console) -> None:
    fax = console.seeded.sample_inbound["ann"]
    answer = console.post("ann", f"/inbox/{fax}/forward", {"email": "accounts@partner.example"})
    assert answer.status_code == 422 and "smtp_host" in answer.text
