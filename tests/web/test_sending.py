"""The send form read and checked: numbers, contacts and groups become recipients (each
once), the send time is read in the browser's zone, and every problem is said in words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.web.conftest import BACKENDS
from umfax.config import parse_config
from umfax.store import Store
from umfax.store.contacts import ContactIn, ContactStore
from umfax.submit import JobBuilder
from umfax.web.identity import WebUser
from umfax.web.sending import SendForm, check_form, send_time

NOW = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


def test_send_time_in_the_browsers_zone() -> None:
    assert send_time("2026-12-07T20:30", "-60", NOW) == datetime(2026, 12, 7, 19, 30, tzinfo=UTC)  # UTC+1
    assert send_time("2026-12-07T17:58", "0", NOW) is None  # just past: now
    with pytest.raises(ValueError, match="in the past"):
        send_time("2026-12-06T17:00", "0", NOW)
    with pytest.raises(ValueError, match="not a date"):
        send_time("tomorrow", "0", NOW)


def test_form_items_and_round_trip() -> None:
    form = SendForm.from_items(
        [
            ("numbers", "+1 212 555 0110, +1 212 555 0111"),
            ("contact", "3"),
            ("contact", "3"),
            ("group", "x"),
            ("cover", "on"),
            ("subject", "s" * 900),
            ("file", object()),
        ]
    )
    assert form.contact_ids == (3,) and form.group_ids == () and form.cover and len(form.subject) == 500
    assert form.typed_numbers() == ["+1 212 555 0110", "+1 212 555 0111"]
    assert SendForm.from_dict(form.to_dict()) == form


@pytest.mark.parametrize("store_url", BACKENDS, indirect=True)
def test_recipients_from_numbers_contacts_and_groups_each_once(store: Store) -> None:
    store.sync_users([("ann", "ann@example.com", "", None, True)])
    row = store.find_user(email="ann@example.com")
    assert row is not None
    ann = WebUser(row.id, "ann", "ann@example.com", "", False)
    book = ContactStore(store)
    acme = book.add(ann.id, ContactIn("Acme", "+12125550110", company="Acme Inc"))
    group = book.create_group(ann.id, "All")
    book.add_members(ann.id, group, [acme])
    config = parse_config(
        {"users": [{"name": "ann", "email": "ann@example.com"}], "dial_rules": {"blocked": ["+1900"]}}
    )
    builder = JobBuilder(config)
    form = SendForm(
        numbers="+1 212 555 0110\n+1 900 555 0100\n12ab",
        contact_ids=(acme,),
        group_ids=(group,),
        send_at="2026-12-07T19:00",
        tz_offset="0",
    )
    checked = check_form(form, ann, True, builder, book, now=NOW)
    assert [(r.address, r.name) for r in checked.recipients] == [("+12125550110", "")]  # typed first, once
    assert any("blocked" in p for p in checked.problems) and any("12ab" in p for p in checked.problems)
    assert checked.send_at == datetime(2026, 12, 7, 19, 0, tzinfo=UTC)
    refused = check_form(
        SendForm(resolution="superfine", priority="asap"), ann, False, builder, book, now=NOW
    )
    assert len(refused.problems) == 4  # may not send, resolution, priority, no recipient
