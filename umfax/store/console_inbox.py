"""The console's inbox: received faxes and voice messages as one person may see them.

Every query is scoped in SQL by :class:`Viewer`: an administrator sees every received
item (quarantined ones too); anyone else sees the items routed to them (an ``inbound``
delivery notice in the outbox names them, as for the REST API) or assigned to them
(``inbound.user_id``), never quarantined ones.  Nobody sees an item an administrator
deleted for everyone (``inbound_notes.deleted_at``) or one they removed from their own
inbox (``inbound_marks.removed_at``: others keep it).  Read marks are per person too;
the note and tags are shared by everyone the item reaches.  A record the viewer may not
see is simply not found.  Lists page by keyset on
(``started_at``, ``id``), newest first, following the ``ix_inbound_started`` index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, and_, cast, delete, exists, false, literal, or_, select, tuple_
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from umfax.states import InboundState
from umfax.store import Store
from umfax.store.console_models import InboundMark, InboundNote, InboundTag
from umfax.store.models import Inbound, InboundAudio, InboundPage, Outbox, User, utcnow
from umfax.store.outbox import Notice, add_notices

#: States an inbox shows: something came (pages or a voice message).
LISTED = (InboundState.RECEIVED.value, InboundState.PARTIAL.value)
MAX_TAG = 64
MAX_NOTE = 10_000
#: A part of a number this long matches few faxes (searched through the number index).
SELECTIVE = 7


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: a users row, and whether they administer the server."""

    user_id: int
    user_name: str
    admin: bool


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page of a newest-first list ends: the last row's time (a received fax's
    started_at, a sent fax's created_at) and id, as a URL token."""

    at: datetime
    id: int

    def token(self) -> str:
        return f"{self.at.timestamp():.6f}_{self.id}"

    @classmethod
    def parse(cls, token: str) -> Cursor | None:
        from datetime import UTC

        try:
            stamp, _, ident = token.partition("_")
            return cls(datetime.fromtimestamp(float(stamp), UTC), int(ident))
        except (ValueError, OverflowError, OSError):
            return None


@dataclass(frozen=True, slots=True)
class InboxQuery:
    """A search: each field narrows the list (empty: no condition)."""

    number: str = ""  # part of the caller's number
    numbers: tuple[str, ...] = ()  # the number in full, as it may be stored (indexed search)
    station: str = ""  # part of the station ID (TSI)
    since: datetime | None = None
    until: datetime | None = None
    tag: str = ""
    quarantined: bool = False  # admins: the quarantine instead of the inbox
    after: Cursor | None = None


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    kind: str
    state: str
    caller_number: str
    caller_name: str
    called_number: str
    remote_id: str
    started_at: datetime
    pages: int
    read: bool
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InboxPage:
    rows: list[InboxRow]
    next: Cursor | None


@dataclass(frozen=True, slots=True)
class ItemDetail:
    fax: Inbound
    note: str
    read: bool
    tags: tuple[str, ...]
    seconds: float | None
    assigned_to: str
    page_ids: list[tuple[int, int]] = field(default_factory=list)  # (seq, page id)


#: What a list row shows (plain columns: no ORM objects to build).
LIST_COLUMNS = (
    Inbound.id,
    Inbound.kind,
    Inbound.state,
    Inbound.caller_number,
    Inbound.caller_name,
    Inbound.called_number,
    Inbound.remote_id,
    Inbound.started_at,
    Inbound.pages,
)


def visible(viewer: Viewer, quarantined: bool = False) -> ColumnElement[bool]:
    """The condition on ``inbound`` rows that ``viewer`` may see in their inbox: not deleted
    for everyone, not removed by the viewer, and (unless an administrator) reaching them."""
    deleted = aliased(InboundNote)
    removed = aliased(InboundMark)
    in_their_inbox = and_(
        ~exists(
            select(deleted.inbound_id).where(
                deleted.inbound_id == Inbound.id, deleted.deleted_at.is_not(None)
            )
        ).correlate(Inbound),
        ~exists(
            select(removed.inbound_id).where(
                removed.inbound_id == Inbound.id,
                removed.user_id == viewer.user_id,
                removed.removed_at.is_not(None),
            )
        ).correlate(Inbound),
    )
    if viewer.admin:
        states = (InboundState.QUARANTINED.value,) if quarantined else LISTED
        return and_(Inbound.state.in_(states), in_their_inbox)
    if quarantined:
        return false()
    # OFFSET 0 keeps PostgreSQL from turning this into a hash of all the user's delivery
    # notices (tens of thousands) built for every page: a list of 50 needs ~200 probes of
    # the outbox's unique index instead.
    routed = exists(
        select(Outbox.id)
        .where(
            Outbox.origin == literal("inbound:", String).concat(cast(Inbound.id, String)),
            Outbox.channel == "inbound",
            Outbox.target == viewer.user_name,
        )
        .offset(0)
    ).correlate(Inbound)
    return and_(Inbound.state.in_(LISTED), or_(Inbound.user_id == viewer.user_id, routed), in_their_inbox)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class InboxStore:
    """Scoped reads and the person's changes (read, note, tags, delete, assign)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- reading ---------------------------------------------------------------------------

    def listing(self, viewer: Viewer, query: InboxQuery, limit: int = 50) -> InboxPage:
        """A page of the viewer's list, newest first.  A number search looks for the
        number in full first (``numbers``, through an index), then for part of it."""
        if query.numbers:
            exact = self._listing(viewer, query, limit, Inbound.caller_number.in_(query.numbers))
            if exact.rows or query.after is not None:
                return exact
        partial = query.number.strip()
        if not partial:
            return self._listing(viewer, query, limit, None)
        matching = Inbound.caller_number.contains(partial, autoescape=True)
        if len(partial) >= SELECTIVE:
            # Few rows match: find them by scanning the narrow number index alone, then
            # sort those, instead of reading every row newest first.
            inner = aliased(Inbound)
            number = inner.caller_number.contains(partial, autoescape=True)
            matching = Inbound.id.in_(select(inner.id).where(number))
        return self._listing(viewer, query, limit, matching)

    def _listing(
        self, viewer: Viewer, query: InboxQuery, limit: int, number: ColumnElement[bool] | None
    ) -> InboxPage:
        # The cheap column tests first: SQLite evaluates terms in order, so the scoping
        # subqueries run only for rows that match the search.
        condition: list[ColumnElement[bool]] = []
        if number is not None:
            condition.append(number)
        if query.station.strip():
            condition.append(Inbound.remote_id.ilike(f"%{_escaped(query.station.strip())}%", escape="\\"))
        if query.since is not None:
            condition.append(Inbound.started_at >= query.since)
        if query.until is not None:
            condition.append(Inbound.started_at < query.until)
        if query.tag.strip():
            condition.append(
                exists().where(
                    InboundTag.inbound_id == Inbound.id, InboundTag.tag == query.tag.strip().lower()
                )
            )
        condition.append(visible(viewer, query.quarantined))
        if query.after is not None:
            condition.append(
                tuple_(Inbound.started_at, Inbound.id) < tuple_(query.after.at, query.after.id)
            )
        statement = (
            select(*LIST_COLUMNS, InboundMark.read_at)
            .outerjoin(
                InboundMark, and_(InboundMark.inbound_id == Inbound.id, InboundMark.user_id == viewer.user_id)
            )
            .where(*condition)
            .order_by(Inbound.started_at.desc(), Inbound.id.desc())
            .limit(limit + 1)
        )
        with self.store.reading() as session:
            found = session.execute(statement).all()
            tags = self._tags(session, [row[0] for row in found[:limit]])
        rows = [
            InboxRow(
                id=row.id,
                kind=row.kind,
                state=row.state,
                caller_number=row.caller_number,
                caller_name=row.caller_name,
                called_number=row.called_number,
                remote_id=row.remote_id,
                started_at=row.started_at,
                pages=row.pages,
                read=row.read_at is not None,
                tags=tags.get(row.id, ()),
            )
            for row in found[:limit]
        ]
        last = rows[-1] if len(found) > limit else None
        return InboxPage(rows, Cursor(last.started_at, last.id) if last else None)

    @staticmethod
    def _tags(session: Session, ids: list[int]) -> dict[int, tuple[str, ...]]:
        if not ids:
            return {}
        out: dict[int, list[str]] = {}
        for inbound_id, tag in session.execute(
            select(InboundTag.inbound_id, InboundTag.tag)
            .where(InboundTag.inbound_id.in_(ids))
            .order_by(InboundTag.tag)
        ):
            out.setdefault(inbound_id, []).append(tag)
        return {key: tuple(value) for key, value in out.items()}

    def find(self, viewer: Viewer, inbound_id: int) -> Inbound | None:
        """The item if ``viewer`` may see it (quarantined ones: admins), else None."""
        with self.store.reading() as session:
            return session.scalars(
                select(Inbound).where(
                    Inbound.id == inbound_id, or_(visible(viewer), visible(viewer, quarantined=True))
                )
            ).first()

    def detail(self, viewer: Viewer, inbound_id: int) -> ItemDetail | None:
        fax = self.find(viewer, inbound_id)
        if fax is None:
            return None
        with self.store.reading() as session:
            note = session.get(InboundNote, inbound_id)
            mark = session.get(InboundMark, (inbound_id, viewer.user_id))
            pages = [
                (seq, page_id)
                for seq, page_id in session.execute(
                    select(InboundPage.seq, InboundPage.id)
                    .where(InboundPage.inbound_id == inbound_id)
                    .order_by(InboundPage.seq)
                )
            ]
            seconds = session.scalar(
                select(InboundAudio.seconds).where(InboundAudio.inbound_id == inbound_id)
            )
            owner = session.scalar(select(User.name).where(User.id == fax.user_id)) if fax.user_id else None
            tags = self._tags(session, [inbound_id]).get(inbound_id, ())
        return ItemDetail(
            fax=fax,
            note=note.note if note else "",
            read=bool(mark and mark.read_at),
            tags=tags,
            seconds=seconds,
            assigned_to=owner or "",
            page_ids=pages,
        )

    def page(self, viewer: Viewer, inbound_id: int, seq: int) -> InboundPage | None:
        """Page ``seq`` of an item ``viewer`` may see, in one scoped query."""
        with self.store.reading() as session:
            return session.scalars(
                select(InboundPage)
                .join(Inbound, Inbound.id == InboundPage.inbound_id)
                .where(
                    InboundPage.inbound_id == inbound_id,
                    InboundPage.seq == seq,
                    or_(visible(viewer), visible(viewer, quarantined=True)),
                )
            ).first()

    def audio(self, viewer: Viewer, inbound_id: int) -> InboundAudio | None:
        with self.store.reading() as session:
            return session.scalars(
                select(InboundAudio)
                .join(Inbound, Inbound.id == InboundAudio.inbound_id)
                .where(
                    InboundAudio.inbound_id == inbound_id,
                    or_(visible(viewer), visible(viewer, quarantined=True)),
                )
            ).first()

    def neighbours(self, viewer: Viewer, fax: Inbound) -> tuple[int | None, int | None]:
        """(newer, older): the items beside ``fax`` in the viewer's list."""
        quarantined = fax.state == InboundState.QUARANTINED.value
        key = tuple_(Inbound.started_at, Inbound.id)
        here = tuple_(literal(fax.started_at, Inbound.started_at.type), literal(fax.id))
        with self.store.reading() as session:
            newer = session.scalar(
                select(Inbound.id)
                .where(visible(viewer, quarantined), key > here)
                .order_by(Inbound.started_at, Inbound.id)
                .limit(1)
            )
            older = session.scalar(
                select(Inbound.id)
                .where(visible(viewer, quarantined), key < here)
                .order_by(Inbound.started_at.desc(), Inbound.id.desc())
                .limit(1)
            )
        return newer, older

    def users(self) -> list[tuple[int, str]]:
        """Everyone an item can be assigned to: (id, name)."""
        with self.store.reading() as session:
            return list(session.execute(select(User.id, User.name).order_by(User.name)))

    # -- changing (callers check visibility first with find) ---------------------------------

    @staticmethod
    def _note(session: Session, inbound_id: int) -> InboundNote:
        note = session.get(InboundNote, inbound_id)
        if note is None:
            note = InboundNote(inbound_id=inbound_id, note="")
            session.add(note)
        return note

    @staticmethod
    def _mark(session: Session, inbound_id: int, user_id: int) -> InboundMark:
        mark = session.get(InboundMark, (inbound_id, user_id))
        if mark is None:
            mark = InboundMark(inbound_id=inbound_id, user_id=user_id)
            session.add(mark)
        return mark

    def mark_read(self, viewer: Viewer, inbound_id: int, read: bool = True) -> None:
        """Read (or unread again) for ``viewer`` alone."""
        with self.store.writing() as session:
            mark = self._mark(session, inbound_id, viewer.user_id)
            mark.read_at = (mark.read_at or utcnow()) if read else None

    def set_note(self, inbound_id: int, text: str) -> None:
        with self.store.writing() as session:
            self._note(session, inbound_id).note = text[:MAX_NOTE]

    def remove(self, viewer: Viewer, inbound_id: int) -> None:
        """Take the item out of ``viewer``'s inbox only (everyone else it reaches keeps it)."""
        with self.store.writing() as session:
            self._mark(session, inbound_id, viewer.user_id).removed_at = utcnow()

    def delete(self, inbound_id: int) -> None:
        """Take the item out of every inbox (an administrator's; kept for retention and
        the audit log)."""
        with self.store.writing() as session:
            self._note(session, inbound_id).deleted_at = utcnow()

    @staticmethod
    def _deliver_again(session: Session, inbound_id: int, user_id: int) -> None:
        """An item assigned or forwarded to someone who removed it comes back, unread."""
        mark = session.get(InboundMark, (inbound_id, user_id))
        if mark is not None:
            mark.removed_at = None
            mark.read_at = None

    def add_tag(self, inbound_id: int, tag: str) -> str:
        clean = " ".join(tag.split()).lower()[:MAX_TAG]
        if not clean:
            return ""
        with self.store.writing() as session:
            if session.get(InboundTag, (inbound_id, clean)) is None:
                session.add(InboundTag(inbound_id=inbound_id, tag=clean))
        return clean

    def remove_tag(self, inbound_id: int, tag: str) -> None:
        with self.store.writing() as session:
            session.execute(
                delete(InboundTag).where(InboundTag.inbound_id == inbound_id, InboundTag.tag == tag)
            )

    def assign(self, inbound_id: int, user_id: int) -> str | None:
        """Make ``user_id`` the item's owner and deliver it to them (a delivery notice
        through the outbox, as routing does); their name, or None if there is no such user."""
        with self.store.writing() as session:
            name = session.scalar(select(User.name).where(User.id == user_id))
            fax = session.get(Inbound, inbound_id)
            if name is None or fax is None:
                return None
            fax.user_id = user_id
            self._deliver_again(session, inbound_id, user_id)
            add_notices(session, [Notice(f"inbound:{inbound_id}", "inbound", name, {"inbound": inbound_id})])
        return name

    def forward(self, inbound_id: int, user_name: str) -> bool:
        """Deliver the item to another user too (their inbox and their delivery: mail,
        mailbox or folder, through the outbox); False if there is no such user."""
        with self.store.writing() as session:
            user_id = session.scalar(select(User.id).where(User.name == user_name))
            if user_id is None:
                return False
            self._deliver_again(session, inbound_id, user_id)
            add_notices(
                session, [Notice(f"inbound:{inbound_id}", "inbound", user_name, {"inbound": inbound_id})]
            )
        return True

    def forward_by_email(self, inbound_id: int, address: str) -> None:
        """Mail the item (PDF or WAV attached) to ``address`` through the outbox; each
        call sends again (its origin carries the time)."""
        stamp = utcnow().strftime("%Y%m%dT%H%M%S.%f")
        with self.store.writing() as session:
            add_notices(
                session,
                [Notice(f"inbound:{inbound_id}:forward:{stamp}", "forward", address,
                        {"inbound": inbound_id})],
            )


__all__ = ["Cursor", "InboxQuery", "InboxRow", "InboxStore", "ItemDetail", "Viewer", "visible"]
