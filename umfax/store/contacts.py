"""The address book: contacts and groups, each owned by one user.

Every query names the owner in SQL (``user_id == owner``): a contact or group of another
user is never read, changed or counted, and asking for one raises :class:`NotFound`
exactly as for an id that does not exist.  Numbers arrive already normalised (the
console reads them with :mod:`umfax.numbers`); this layer only stores them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from umfax.errors import NotFound, StoreError
from umfax.store.console_models import Contact, ContactGroup, ContactGroupMember
from umfax.store.store import Store

#: Most contacts one user may keep (an import beyond it is refused, not truncated).
MAX_CONTACTS = 10_000
MAX_GROUPS = 500


class AddressBookFull(StoreError):
    """Adding would pass MAX_CONTACTS or MAX_GROUPS."""


@dataclass(frozen=True, slots=True)
class ContactIn:
    """A contact as entered or imported; ``fax_number`` already normalised."""

    name: str
    fax_number: str
    company: str = ""
    email: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class ContactRecord:
    id: int
    name: str
    company: str
    fax_number: str
    email: str
    note: str


@dataclass(frozen=True, slots=True)
class GroupRecord:
    id: int
    name: str
    member_ids: tuple[int, ...]


def _record(row: Contact) -> ContactRecord:
    return ContactRecord(row.id, row.name, row.company, row.fax_number, row.email, row.note)


def _clip(contact: ContactIn) -> dict[str, str]:
    """The fields cut to their columns' lengths."""
    return {
        "name": contact.name.strip()[:200],
        "company": contact.company.strip()[:200],
        "fax_number": contact.fax_number[:32],
        "email": contact.email.strip()[:320],
        "note": contact.note.strip()[:1000],
    }


class ContactStore:
    """Contacts and groups of the store, always for one named owner."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- contacts -------------------------------------------------------------------------

    def contacts(self, owner: int, search: str = "", limit: int = MAX_CONTACTS) -> list[ContactRecord]:
        """The owner's contacts by name; ``search`` matches name, company or number."""
        query = select(Contact).where(Contact.user_id == owner)
        if search.strip():
            like = f"%{search.strip().lower()}%"
            query = query.where(
                or_(
                    func.lower(Contact.name).like(like),
                    func.lower(Contact.company).like(like),
                    Contact.fax_number.like(like),
                )
            )
        with self.store.reading() as session:
            rows = session.scalars(query.order_by(func.lower(Contact.name), Contact.id).limit(limit))
            return [_record(row) for row in rows]

    def contact(self, owner: int, contact_id: int) -> ContactRecord:
        with self.store.reading() as session:
            return _record(self._own_contact(session, owner, contact_id))

    def some(self, owner: int, contact_ids: Iterable[int]) -> list[ContactRecord]:
        """The owner's contacts among ``contact_ids`` (others' ids are left out)."""
        ids = sorted(set(contact_ids))
        if not ids:
            return []
        with self.store.reading() as session:
            rows = session.scalars(
                select(Contact).where(Contact.user_id == owner, Contact.id.in_(ids)).order_by(Contact.id)
            )
            return [_record(row) for row in rows]

    def add(self, owner: int, contact: ContactIn) -> int:
        return self.add_many(owner, [contact])[0]

    def add_many(self, owner: int, contacts: Sequence[ContactIn]) -> list[int]:
        """Add all of ``contacts`` in one transaction, or none (AddressBookFull)."""
        with self.store.writing() as session:
            have = session.scalar(select(func.count()).select_from(Contact).where(Contact.user_id == owner))
            if (have or 0) + len(contacts) > MAX_CONTACTS:
                raise AddressBookFull(
                    f"an address book holds at most {MAX_CONTACTS:,} contacts; you have {have:,}"
                )
            rows = [Contact(user_id=owner, **_clip(contact)) for contact in contacts]
            session.add_all(rows)
            session.flush()
            return [row.id for row in rows]

    def update(self, owner: int, contact_id: int, contact: ContactIn) -> None:
        with self.store.writing() as session:
            row = self._own_contact(session, owner, contact_id)
            for name, value in _clip(contact).items():
                setattr(row, name, value)

    def delete(self, owner: int, contact_id: int) -> None:
        with self.store.writing() as session:
            row = self._own_contact(session, owner, contact_id)
            session.execute(delete(ContactGroupMember).where(ContactGroupMember.contact_id == row.id))
            session.delete(row)

    # -- groups ---------------------------------------------------------------------------

    def groups(self, owner: int) -> list[GroupRecord]:
        with self.store.reading() as session:
            groups = list(
                session.scalars(
                    select(ContactGroup)
                    .where(ContactGroup.user_id == owner)
                    .order_by(func.lower(ContactGroup.name), ContactGroup.id)
                )
            )
            members = self._members(session, [g.id for g in groups])
            return [GroupRecord(g.id, g.name, tuple(members.get(g.id, ()))) for g in groups]

    def group(self, owner: int, group_id: int) -> GroupRecord:
        with self.store.reading() as session:
            row = self._own_group(session, owner, group_id)
            return GroupRecord(row.id, row.name, tuple(self._members(session, [row.id]).get(row.id, ())))

    def group_contacts(self, owner: int, group_ids: Iterable[int]) -> list[ContactRecord]:
        """The members of the owner's groups among ``group_ids``, each once."""
        ids = sorted(set(group_ids))
        if not ids:
            return []
        with self.store.reading() as session:
            rows = session.scalars(
                select(Contact)
                .join(ContactGroupMember, ContactGroupMember.contact_id == Contact.id)
                .join(ContactGroup, ContactGroup.id == ContactGroupMember.group_id)
                .where(ContactGroup.user_id == owner, Contact.user_id == owner, ContactGroup.id.in_(ids))
                .distinct()
                .order_by(Contact.id)
            )
            return [_record(row) for row in rows]

    def create_group(self, owner: int, name: str) -> int:
        with self.store.writing() as session:
            have = session.scalar(
                select(func.count()).select_from(ContactGroup).where(ContactGroup.user_id == owner)
            )
            if (have or 0) >= MAX_GROUPS:
                raise AddressBookFull(f"an address book holds at most {MAX_GROUPS} groups")
            row = ContactGroup(user_id=owner, name=name.strip()[:200])
            session.add(row)
            session.flush()
            return row.id

    def rename_group(self, owner: int, group_id: int, name: str) -> None:
        with self.store.writing() as session:
            self._own_group(session, owner, group_id).name = name.strip()[:200]

    def delete_group(self, owner: int, group_id: int) -> None:
        with self.store.writing() as session:
            row = self._own_group(session, owner, group_id)
            session.execute(delete(ContactGroupMember).where(ContactGroupMember.group_id == row.id))
            session.delete(row)

    def add_members(self, owner: int, group_id: int, contact_ids: Iterable[int]) -> int:
        """Put the owner's contacts among ``contact_ids`` in the group; how many were new."""
        with self.store.writing() as session:
            group = self._own_group(session, owner, group_id)
            wanted = set(
                session.scalars(
                    select(Contact.id).where(Contact.user_id == owner, Contact.id.in_(set(contact_ids)))
                )
            )
            present = set(
                session.scalars(
                    select(ContactGroupMember.contact_id).where(ContactGroupMember.group_id == group.id)
                )
            )
            new = sorted(wanted - present)
            session.add_all(ContactGroupMember(group_id=group.id, contact_id=cid) for cid in new)
            return len(new)

    def remove_member(self, owner: int, group_id: int, contact_id: int) -> None:
        with self.store.writing() as session:
            group = self._own_group(session, owner, group_id)
            session.execute(
                delete(ContactGroupMember).where(
                    ContactGroupMember.group_id == group.id, ContactGroupMember.contact_id == contact_id
                )
            )

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _own_contact(session: Session, owner: int, contact_id: int) -> Contact:
        row = session.scalar(select(Contact).where(Contact.id == contact_id, Contact.user_id == owner))
        if row is None:
            raise NotFound(f"there is no contact {contact_id}")
        return row

    @staticmethod
    def _own_group(session: Session, owner: int, group_id: int) -> ContactGroup:
        row = session.scalar(
            select(ContactGroup).where(ContactGroup.id == group_id, ContactGroup.user_id == owner)
        )
        if row is None:
            raise NotFound(f"there is no group {group_id}")
        return row

    @staticmethod
    def _members(session: Session, group_ids: list[int]) -> dict[int, list[int]]:
        if not group_ids:
            return {}
        out: dict[int, list[int]] = {}
        rows = session.execute(
            select(ContactGroupMember.group_id, ContactGroupMember.contact_id)
            .where(ContactGroupMember.group_id.in_(group_ids))
            .order_by(ContactGroupMember.contact_id)
        )
        for group_id, contact_id in rows:
            out.setdefault(group_id, []).append(contact_id)
        return out
