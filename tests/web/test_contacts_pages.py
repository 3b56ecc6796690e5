"""/contacts: add, edit, delete, groups and CSV/vCard import, each user's own; another
user's contact or group answers 404 on every route."""

from __future__ import annotations

import re

from tests.web.conftest import Api
from tests.web.send_helpers import SignIn, sign_in
from umfax.store.contacts import ContactStore

__all__ = ["sign_in"]


def _user_id(api: Api, name: str) -> int:
    row = api.store.find_user(email=f"{name}@example.com")
    assert row is not None
    return row.id


def test_add_edit_delete_and_others_get_404(api: Api, sign_in: SignIn) -> None:
    ann, bob = sign_in(api, "ann"), sign_in(api, "bob")
    added = ann.post("/contacts", {"name": "Acme", "company": "Acme Inc", "fax_number": "(212) 555-0100"})
    assert added.status_code == 303
    bad = ann.post("/contacts", {"name": "Typo", "fax_number": "12ab"})
    assert bad.status_code == 422 and "12ab" in bad.text and 'value="Typo"' in bad.text
    listing = ann.get("/contacts")
    assert listing.status_code == 200 and "+1 212-555-0100" in listing.text and "Typo" not in listing.text
    (contact,) = ContactStore(api.store).contacts(_user_id(api, "ann"))
    assert bob.get("/contacts").text.count("212-555-0100") == 0
    assert bob.get(f"/contacts/{contact.id}").status_code == 404
    assert (
        bob.post(f"/contacts/{contact.id}", {"name": "Mine", "fax_number": "+12125550199"}).status_code == 404
    )
    assert bob.post(f"/contacts/{contact.id}/delete").status_code == 404
    assert ann.get(f"/contacts/{contact.id}").status_code == 200
    edited = ann.post(f"/contacts/{contact.id}", {"name": "Acme Sales", "fax_number": "+1 212 555 0101"})
    assert edited.status_code == 303
    assert ContactStore(api.store).contact(_user_id(api, "ann"), contact.id).fax_number == "+12125550101"
    assert ann.post(f"/contacts/{contact.id}/delete").status_code == 303
    assert ann.get(f"/contacts/{contact.id}").status_code == 404


def test_groups_are_the_owners_only(api: Api, sign_in: SignIn) -> None:
    ann, bob = sign_in(api, "ann"), sign_in(api, "bob")
    ann.post("/contacts", {"name": "One", "fax_number": "+12125550101"})
    ann.post("/contacts", {"name": "Two", "fax_number": "+12125550102"})
    created = ann.post("/contacts/groups", {"name": "Suppliers"})
    assert created.status_code == 303
    group_path = created.headers["location"]
    group_id = int(group_path.rsplit("/", 1)[1])
    ids = [c.id for c in ContactStore(api.store).contacts(_user_id(api, "ann"))]
    assert (
        ann.session.post(
            ann.url + f"{group_path}/members",
            data=[("csrf_token", ann.csrf()), *[("contact", str(i)) for i in ids]],
            allow_redirects=False,
            timeout=30,
        ).status_code
        == 303
    )
    page = ann.get(group_path)
    assert page.status_code == 200 and "One" in page.text and "Two" in page.text
    for path in (
        group_path,
        f"{group_path}/members",
        f"{group_path}/delete",
        f"{group_path}/members/{ids[0]}/remove",
    ):
        reached = (
            bob.get(path) if path == group_path else bob.post(path, {"name": "x", "contact": str(ids[0])})
        )
        assert reached.status_code == 404, path
    assert ann.post(f"{group_path}/members/{ids[0]}/remove").status_code == 303
    assert ContactStore(api.store).group(_user_id(api, "ann"), group_id).member_ids == (ids[1],)
    assert ann.post(f"{group_path}/delete").status_code == 303
    assert ann.get(group_path).status_code == 404


def test_csv_and_vcard_import_list_the_bad_rows(api: Api, sign_in: SignIn) -> None:
    ann = sign_in(api, "ann")
    csv_file = b"Name,Company,Fax\nAcme,Acme Inc,212 555 0100\nNo Fax,X,\nBad,Y,12ab\n"
    answer = ann.post(
        "/contacts/import", {"group": "Imported"}, files={"file": ("book.csv", csv_file, "text/csv")}
    )
    assert answer.status_code == 200
    text = re.sub(r"\s+", " ", answer.text)
    assert "1 contact added, 2 rows left out" in text
    assert "row 3 (No Fax): no fax number" in text and "row 4 (Bad): " in text
    vcard = (
        b'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Jane Doe\r\nTEL;VALUE=uri;TYPE="fax,work":tel:+1-212-555-0111\r\n'
        b"END:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Voice\r\nTEL;TYPE=CELL:+12125550122\r\nEND:VCARD\r\n"
    )
    answer = ann.post("/contacts/import", files={"file": ("people.vcf", vcard, "text/vcard")})
    text = re.sub(r"\s+", " ", answer.text)
    assert "1 contact added, 1 row left out" in text and "card 2 (Voice): no fax number" in text
    book = ContactStore(api.store)
    owner = _user_id(api, "ann")
    assert sorted(c.fax_number for c in book.contacts(owner)) == ["+12125550100", "+12125550111"]
    (group,) = book.groups(owner)
    assert group.name == "Imported" and len(group.member_ids) == 1
    refused = ann.post("/contacts/import", files={"file": ("x.csv", b"Name,Phone2\nA,1\n", "text/csv")})
    assert refused.status_code == 422 and "no fax number column" in refused.text
    assert book.contacts(_user_id(api, "bob")) == []
