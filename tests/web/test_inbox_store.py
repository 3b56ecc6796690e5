"""The console's scoped queries: a user sees only what is routed or assigned to them, on
every backend; lists page by keyset without gaps or repeats; search, tags, notes, read
marks, delete and assign; sent faxes scoped by owner; page images decode fast and right."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from bench.web_seed import sample_pages, seed
from tests.web.conftest import BACKENDS
from umfax.states import InboundState
from umfax.store import Store
from umfax.store.console_faxes import SentStore
from umfax.store.console_inbox import InboxQuery, InboxStore, Viewer
from umfax.web.images import THUMB_WIDTH, ImageCache, render_page

USERS = ["ann", "bob", "root"]
# The store queries run on both backends (tests/web/conftest.py: pages on SQLite only).


def _setup(store: Store, faxes: int = 60) -> tuple[dict[str, Viewer], InboxStore]:
    store.sync_users([(name, f"{name}@example.com", "", None, True) for name in USERS])
    seeded = seed(store, faxes, ["ann", "bob"])
    viewers = {
        name: Viewer(seeded.users.get(name) or _user_id(store, name), name, name == "root") for name in USERS
    }
    return viewers, InboxStore(store)


def _user_id(store: Store, name: str) -> int:
    from sqlalchemy import select

    from umfax.store.models import User

    with store.reading() as session:
        return int(session.scalar(select(User.id).where(User.name == name)) or 0)


def _all(inbox: InboxStore, viewer: Viewer, query: InboxQuery | None = None, limit: int = 7) -> list[int]:
    query = query or InboxQuery()
    ids: list[int] = []
    while True:
        page = inbox.listing(viewer, query, limit)
        ids += [row.id for row in page.rows]
        if page.next is None:
            return ids
        query = _after(query, page.next)


def _after(query: InboxQuery, cursor: object) -> InboxQuery:
    from dataclasses import replace

    return replace(query, after=cursor)  # type: ignore[arg-type]


@pytest.mark.parametrize("store_url", BACKENDS, indirect=True)
def test_each_user_sees_only_their_own_and_pages_without_gaps(store: Store) -> None:
    viewers, inbox = _setup(store)
    ann, bob, root = (_all(inbox, viewers[n]) for n in USERS)
    assert len(ann) == len(bob) == 15 and not set(ann) & set(bob)
    assert sorted(root) == sorted(ann + bob) and len(set(root)) == len(root)
    for fax_id in bob:
        assert inbox.find(viewers["ann"], fax_id) is None
        assert inbox.page(viewers["ann"], fax_id, 1) is None
        assert inbox.detail(viewers["ann"], fax_id) is None
    assert inbox.page(viewers["bob"], bob[0], 1) is not None
    newer, older = inbox.neighbours(viewers["ann"], inbox.find(viewers["ann"], ann[3]))  # type: ignore[arg-type]
    assert (newer, older) == (ann[2], ann[4])


@pytest.mark.parametrize("store_url", BACKENDS, indirect=True)
def test_search_tags_notes_read_delete_assign(store: Store) -> None:
    viewers, inbox = _setup(store)
    ann = viewers["ann"]
    first = inbox.listing(ann, InboxQuery(), 1).rows[0]
    assert _all(inbox, ann, InboxQuery(number=first.caller_number[-5:]))[0] == first.id
    assert _all(inbox, ann, InboxQuery(number=first.caller_number[-8:]))[0] == first.id  # via the index
    assert _all(inbox, viewers["bob"], InboxQuery(number=first.caller_number[-8:])) == [
        fax
        for fax in _all(inbox, viewers["bob"])
        if inbox.find(viewers["bob"], fax).caller_number == first.caller_number  # type: ignore[union-attr]
    ]
    whole = _all(inbox, ann, InboxQuery(number="x", numbers=(first.caller_number,)))
    assert whole[0] == first.id and len(whole) == len(
        _all(inbox, ann, InboxQuery(number=first.caller_number))
    )
    fallback = InboxQuery(number=first.caller_number[-5:], numbers=("+10000000000",))
    assert _all(inbox, ann, fallback)[0] == first.id  # no whole match: part of it
    if first.remote_id:
        assert first.id in _all(inbox, ann, InboxQuery(station=first.remote_id.lower()))
    assert inbox.add_tag(first.id, "  Tax   Office ") == "tax office"
    assert _all(inbox, ann, InboxQuery(tag="tax office")) == [first.id]
    assert _all(inbox, viewers["bob"], InboxQuery(tag="tax office")) == []
    day = first.started_at
    around = InboxQuery(since=day - timedelta(seconds=1), until=day + timedelta(seconds=1))
    assert first.id in _all(inbox, ann, around)
    assert first.id not in _all(inbox, ann, InboxQuery(until=day - timedelta(seconds=1)))
    inbox.set_note(first.id, "call them back")
    inbox.mark_read(ann, first.id)
    detail = inbox.detail(ann, first.id)
    assert detail is not None and detail.note == "call them back" and detail.read
    assert detail.tags == ("tax office",)
    inbox.mark_read(ann, first.id, False)
    assert not inbox.listing(ann, InboxQuery(), 1).rows[0].read
    assert inbox.assign(first.id, viewers["bob"].user_id) == "bob"
    assert first.id in _all(inbox, viewers["bob"])
    inbox.delete(first.id)
    assert inbox.find(ann, first.id) is None and first.id not in _all(inbox, viewers["root"])


def _shared_fax(store: Store, to: list[str]) -> int:
    fax = store.start_inbound("line1", caller_number="+12125550142")
    store.add_inbound_page(fax.id, 1, _page_in())  # type: ignore[arg-type]
    store.finish_inbound(fax.id, result="ok", deliver_to=to)
    return fax.id


def _read(inbox: InboxStore, viewer: Viewer, fax: int) -> bool:
    rows = [row for row in inbox.listing(viewer, InboxQuery(), 100).rows if row.id == fax]
    detail = inbox.detail(viewer, fax)
    assert len(rows) == 1 and detail is not None
    assert rows[0].read == detail.read
    return detail.read


@pytest.mark.parametrize("store_url", BACKENDS, indirect=True)
def test_read_marks_and_removal_are_each_persons_own_notes_and_tags_shared(store: Store) -> None:
    viewers, inbox = _setup(store, faxes=4)
    ann, bob, root = (viewers[n] for n in USERS)
    fax = _shared_fax(store, ["ann", "bob"])
    assert not _read(inbox, ann, fax) and not _read(inbox, bob, fax)
    inbox.mark_read(ann, fax)
    assert _read(inbox, ann, fax) and not _read(inbox, bob, fax) and not _read(inbox, root, fax)
    inbox.set_note(fax, "paid")
    inbox.add_tag(fax, "invoice")
    shared = inbox.detail(bob, fax)
    assert shared is not None and shared.note == "paid" and shared.tags == ("invoice",)
    inbox.remove(ann, fax)
    assert inbox.find(ann, fax) is None and fax not in _all(inbox, ann)
    assert inbox.page(ann, fax, 1) is None
    assert fax in _all(inbox, bob) and fax in _all(inbox, root) and not _read(inbox, bob, fax)
    assert fax in _all(inbox, bob, InboxQuery(tag="invoice"))
    inbox.forward(fax, "ann")  # delivered to ann again: back in her inbox, unread
    assert fax in _all(inbox, ann) and not _read(inbox, ann, fax)
    inbox.remove(root, fax)  # an administrator's own removal is theirs too
    assert fax not in _all(inbox, root) and fax in _all(inbox, bob)
    inbox.delete(fax)  # an administrator's delete for everyone
    assert all(fax not in _all(inbox, v) and inbox.find(v, fax) is None for v in (ann, bob, root))
    assert store.get_inbound(fax) is not None  # kept for retention and the audit


@pytest.mark.parametrize("store_url", BACKENDS, indirect=True)
def test_migration_0011_turns_the_shared_read_mark_into_each_persons(store: Store) -> None:
    from alembic import command

    from umfax.store.database import HEAD_REVISION, _alembic_config, current_revision, upgrade

    viewers, inbox = _setup(store, faxes=4)
    fax, unread = _shared_fax(store, ["ann", "bob"]), _shared_fax(store, ["ann"])
    inbox.mark_read(viewers["ann"], fax)
    command.downgrade(_alembic_config(store.engine), "0010")  # one shared read_at again
    upgrade(store.engine)
    assert current_revision(store.engine) == HEAD_REVISION
    assert _read(inbox, viewers["ann"], fax) and _read(inbox, viewers["bob"], fax)
    assert not _read(inbox, viewers["ann"], unread)
    assert not _read(inbox, viewers["root"], fax)  # no console account: not an admin here


@pytest.mark.parametrize("store_url", BACKENDS, indirect=True)
def test_quarantine_is_for_admins(store: Store) -> None:
    viewers, inbox = _setup(store, faxes=4)
    fax = store.start_inbound("line1", caller_number="+12125550199")
    store.add_inbound_page(fax.id, 1, _page_in())
    store.finish_inbound(fax.id, result="ok", deliver_to=["ann"], quarantine="junk caller")
    assert fax.id not in _all(inbox, viewers["ann"]) and inbox.find(viewers["ann"], fax.id) is None
    assert _all(inbox, viewers["root"], InboxQuery(quarantined=True)) == [fax.id]
    assert _all(inbox, viewers["ann"], InboxQuery(quarantined=True)) == []
    assert inbox.find(viewers["root"], fax.id) is not None
    assert store.get_inbound(fax.id).state == InboundState.QUARANTINED


@pytest.mark.parametrize("store_url", BACKENDS, indirect=True)
def test_sent_faxes_scoped_by_owner(store: Store) -> None:
    viewers, _ = _setup(store, faxes=40)
    sent = SentStore(store)
    seen: dict[str, list[int]] = {}
    for name in USERS:
        ids, cursor = [], None
        while True:
            page = sent.listing(viewers[name], after=cursor, limit=6)
            ids += [job.id for job in page.jobs]
            if page.next is None:
                break
            cursor = page.next
        seen[name] = ids
    assert len(seen["ann"]) == len(seen["bob"]) == 10
    assert sorted(seen["root"]) == sorted(seen["ann"] + seen["bob"])
    assert sent.find(viewers["ann"], seen["bob"][0]) is None
    assert sent.page(viewers["ann"], seen["bob"][0], 1) is None
    assert sent.page(viewers["bob"], seen["bob"][0], 1) is not None
    only_ann = sent.listing(viewers["root"], owner=viewers["ann"].user_id, limit=100).jobs
    assert {job.id for job in only_ann} == set(seen["ann"])


def _page_in() -> object:
    from umfax.store import PageIn

    page = sample_pages()[0]
    return PageIn(page.data, page.width, page.length, page.x_res, page.y_res, page.encoding)


class _Row:
    def __init__(self, page: object, ident: int) -> None:
        self.id = ident
        for name in ("width", "length", "x_res", "y_res", "encoding", "data"):
            setattr(self, name, getattr(page, name))


def test_page_images_keep_the_aspect_and_are_fast() -> None:
    fine, standard = sample_pages()
    assert standard.y_res == 98
    for page in (fine, standard):
        thumb = Image.open(io.BytesIO(render_page(_Row(page, 1), "thumb")))  # type: ignore[arg-type]
        full = Image.open(io.BytesIO(render_page(_Row(page, 1), "full")))  # type: ignore[arg-type]
        assert thumb.width == THUMB_WIDTH and 1.2 < thumb.height / thumb.width < 1.4, thumb.size
        assert full.width == 1728 and 1.2 < full.height / full.width < 1.4, full.size
        assert full.convert("L").getextrema() == (0, 255)  # black text on white
    cache = ImageCache(entries=2)
    started = time.perf_counter()
    for n in range(20):
        cache.get("inbound_pages", _Row(fine, n % 3), "thumb")  # type: ignore[arg-type]
    assert time.perf_counter() - started < 2.0 and len(cache) == 2
    assert cache.cached("inbound_pages", 1, "thumb") is not None


def test_cursor_round_trip() -> None:
    from umfax.store.console_inbox import Cursor

    at = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert Cursor.parse(Cursor(at, 42).token()) == Cursor(at, 42)
    assert Cursor.parse("nonsense") is None
