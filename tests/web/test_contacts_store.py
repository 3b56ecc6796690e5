"""The address book store keeps every user's contacts and groups to themselves; the
importer reads CSV and vCard 3/4, normalises numbers and says what is wrong with bad rows."""

from __future__ import annotations

import pytest

from tests.web.conftest import BACKENDS
from umfax.config import DialRulesConfig
from umfax.contacts_import import MAX_IMPORT_BYTES, ImportRefused, read_contacts
from umfax.errors import NotFound
from umfax.numbers import DialPlan
from umfax.store import Store
from umfax.store.contacts import ContactIn, ContactStore


def _users(store: Store) -> tuple[int, int]:
    store.sync_users([("ann", "ann@example.com", "", None, True), ("bob", "bob@example.com", "", None, True)])
    ann, bob = store.find_user(email="ann@example.com"), store.find_user(email="bob@example.com")
    assert ann is not None and bob is not None
    return ann.id, bob.id


@pytest.mark.parametrize("store_url", BACKENDS, indirect=True)
def test_contacts_and_groups_are_scoped_to_their_owner(store: Store) -> None:
    ann, bob = _users(store)
    book = ContactStore(store)
    a1 = book.add(ann, ContactIn("Zed Office", "+12125550101", company="Zed"))
    a2 = book.add(ann, ContactIn("acme", "+12125550102"))
    b1 = book.add(bob, ContactIn("Bob's", "+12125550103"))
    assert [c.name for c in book.contacts(ann)] == ["acme", "Zed Office"]
    assert [c.id for c in book.contacts(ann, search="zed")] == [a1]
    assert [c.id for c in book.some(ann, [a1, b1])] == [a1]
    for call in (
        lambda: book.contact(ann, b1),
        lambda: book.update(ann, b1, ContactIn("x", "+12125550199")),
        lambda: book.delete(ann, b1),
    ):
        with pytest.raises(NotFound):
            call()
    book.update(ann, a2, ContactIn("Acme", "+12125550109", note="n" * 2000))
    assert book.contact(ann, a2).fax_number == "+12125550109" and len(book.contact(ann, a2).note) == 1000

    group = book.create_group(ann, "Suppliers")
    assert book.add_members(ann, group, [a1, a2, b1]) == 2  # bob's contact is not added
    assert book.add_members(ann, group, [a1]) == 0
    assert book.group(ann, group).member_ids == (a1, a2)
    assert [c.id for c in book.group_contacts(ann, [group])] == [a1, a2]
    assert book.group_contacts(bob, [group]) == []
    with pytest.raises(NotFound):
        book.group(bob, group)
    with pytest.raises(NotFound):
        book.add_members(bob, group, [b1])
    book.remove_member(ann, group, a1)
    book.delete(ann, a2)
    assert book.group(ann, group).member_ids == ()
    book.rename_group(ann, group, "Vendors")
    assert [g.name for g in book.groups(ann)] == ["Vendors"] and book.groups(bob) == []
    book.delete_group(ann, group)
    assert book.groups(ann) == []


PLAN = DialPlan(DialRulesConfig(), "US")


def _normalise(raw: str) -> str:
    return PLAN.destination(raw).address


def test_csv_import_normalises_numbers_and_names_bad_rows() -> None:
    data = (
        b"Name,Company,Fax,E-mail\n"
        b"Acme Sales,Acme,(212) 555-0100,sales@acme.example\n"
        b",,,\n"
        b"No Number,X,,\n"
        b"Bad One,Y,12ab,\n"
        b"Abroad,,+44 20 7946 0958,\n"
    )
    result = read_contacts("book.csv", data, _normalise)
    assert [(c.name, c.fax_number, c.company) for c in result.contacts] == [
        ("Acme Sales", "+12125550100", "Acme"),
        ("Abroad", "+442079460958", ""),
    ]
    assert result.contacts[0].email == "sales@acme.example"
    assert result.skipped == 2
    assert result.problems[0] == "row 4 (No Number): no fax number"
    assert result.problems[1].startswith("row 5 (Bad One): ")


def test_outlook_csv_with_semicolons_and_first_last_names() -> None:
    data = "First Name;Last Name;Company;Business Fax\nJane;Doe;Doe & Co;212 555 0111\n".encode("cp1252")
    result = read_contacts("contacts.csv", data, _normalise)
    found = [(c.name, c.fax_number, c.company) for c in result.contacts]
    assert found == [("Jane Doe", "+12125550111", "Doe & Co")]


def test_google_contacts_csv_takes_the_phone_typed_fax() -> None:
    data = (
        b"Name,Organization 1 - Name,Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,Phone 2 - Value\n"
        b"Jane Doe,Doe & Co,Mobile,+1 212 555 0199,Work Fax,+1 212 555 0111\n"
        b"Voice Only,,Mobile,+1 212 555 0198,,\n"
    )
    result = read_contacts("contacts.csv", data, _normalise)
    assert [(c.name, c.fax_number, c.company) for c in result.contacts] == [
        ("Jane Doe", "+12125550111", "Doe & Co")
    ]
    assert result.problems == ["row 3 (Voice Only): no fax number"]


def test_csv_without_a_fax_column_or_too_large_is_refused() -> None:
    with pytest.raises(ImportRefused, match="no fax number column"):
        read_contacts("x.csv", b"Name,Phone2\nA,1\n", _normalise)
    with pytest.raises(ImportRefused, match="at most"):
        read_contacts("x.csv", b"a" * (MAX_IMPORT_BYTES + 1), _normalise)


VCARDS = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Acme\\, Inc. Sales\r\nORG:Acme;Sales\r\n"
    "TEL;TYPE=VOICE:+1 212 555 0199\r\nTEL;TYPE=HOME,FAX:+1 212 555 0198\r\n"
    "TEL;TYPE=WORK,FAX:+1 212 555\r\n 0100\r\nEMAIL;TYPE=INTERNET:s@acme.example\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Doe;Jane;;;\r\n"
    'TEL;VALUE=uri;TYPE="fax,work":tel:+1-212-555-0111\r\nEND:VCARD\r\n'
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Voice Only\r\nTEL;TYPE=CELL:+1 212 555 0122\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Bad Fax\r\nTEL;WORK;FAX:12\r\nEND:VCARD\r\n"
)


def test_vcard_3_and_4_import() -> None:
    result = read_contacts("people.vcf", VCARDS.encode(), _normalise)
    assert [(c.name, c.fax_number, c.company) for c in result.contacts] == [
        ("Acme, Inc. Sales", "+12125550100", "Acme"),
        ("Jane Doe", "+12125550111", ""),
    ]
    assert result.contacts[0].email == "s@acme.example"
    assert result.problems[0] == "card 3 (Voice Only): no fax number (a TEL with TYPE=fax)"
    assert result.problems[1].startswith("card 4 (Bad Fax): ") and "short" in result.problems[1]
