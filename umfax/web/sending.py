"""The console's send form: what it holds, who it goes to, its preview, and the jobs.

A fax from the console takes the same road as one from the REST API: every recipient
becomes a :class:`~umfax.submit.FaxRequest` checked by :class:`~umfax.submit.JobBuilder`
(dial rules) and stored by :func:`~umfax.submit.submit_fax`, one job per recipient.  Its
preview is converted by :func:`umfax.prepare.render`, the conversion worker's own code,
from a job that is built exactly as the store would build it but never stored, so the
pages shown are the pages the line will send (1-bit, at the chosen resolution).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
from PIL import Image

from umfax.config import Config
from umfax.conversion import FaxPage, page_bitmap
from umfax.conversion.cover_templates import UnknownCoverTemplate, template_path
from umfax.conversion.isolated import IsolatedConverter
from umfax.conversion.preview import bitmap_image
from umfax.errors import InvalidNumber, describe_error
from umfax.numbers import display
from umfax.prepare import render
from umfax.store import DocumentIn
from umfax.store.contacts import ContactStore
from umfax.store.models import Document, Job
from umfax.submit import PRIORITIES, FaxRequest, JobBuilder
from umfax.web.identity import WebUser
from umfax.web.previews import PreviewPage

RESOLUTIONS = ("standard", "fine")
MAX_RECIPIENTS = 100
MAX_FIELD = {"to_name": 200, "to_company": 200, "subject": 500, "comments": 4000, "numbers": 20_000}
#: The form's other fields (up to 100 characters each).
OPTIONS = ("cover", "cover_template", "resolution", "priority", "send_at", "tz_offset")
#: A send time this far in the past is taken as "now" (the minute the form was filled in).
PAST_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class SendForm:
    """The send form's fields, as written (files apart)."""

    numbers: str = ""  # typed numbers: one a line, or separated by commas or semicolons
    contact_ids: tuple[int, ...] = ()
    group_ids: tuple[int, ...] = ()
    cover: bool = False
    cover_template: str = ""  # a template's name; "": the configured default
    to_name: str = ""
    to_company: str = ""
    subject: str = ""
    comments: str = ""
    resolution: str = "fine"
    priority: str = "normal"
    send_at: str = ""  # <input type=datetime-local>: 2026-12-07T18:30
    tz_offset: str = ""  # minutes west of UTC, from the browser (send.js); "": the server's zone

    @classmethod
    def from_items(cls, items: Sequence[tuple[str, Any]]) -> SendForm:
        """The form from a request's ``form.multi_items()`` (files are left out)."""
        values: dict[str, str] = {}
        contacts: list[int] = []
        groups: list[int] = []
        for name, value in items:
            if not isinstance(value, str):
                continue
            if name == "contact" and value.isdigit():
                contacts.append(int(value))
            elif name == "group" and value.isdigit():
                groups.append(int(value))
            elif name in MAX_FIELD or name in OPTIONS:
                values[name] = value[: MAX_FIELD.get(name, 100)]
        return cls(
            numbers=values.get("numbers", ""),
            contact_ids=tuple(dict.fromkeys(contacts)),
            group_ids=tuple(dict.fromkeys(groups)),
            cover=values.get("cover", "") in ("on", "true", "1", "yes"),
            cover_template=values.get("cover_template", "").strip(),
            to_name=values.get("to_name", "").strip(),
            to_company=values.get("to_company", "").strip(),
            subject=values.get("subject", "").strip(),
            comments=values.get("comments", "").strip(),
            resolution=values.get("resolution", "fine"),
            priority=values.get("priority", "normal"),
            send_at=values.get("send_at", "").strip(),
            tz_offset=values.get("tz_offset", "").strip(),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SendForm:
        raw = dict(raw)
        raw["contact_ids"] = tuple(raw.get("contact_ids", ()))
        raw["group_ids"] = tuple(raw.get("group_ids", ()))
        return cls(**raw)

    def typed_numbers(self) -> list[str]:
        return [n.strip() for n in re.split(r"[\n\r,;]+", self.numbers) if n.strip()]


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who one job goes to: the number as written and the cover's name and company."""

    number: str
    name: str
    company: str
    address: str  # where it goes, as the job stores it

    @property
    def label(self) -> str:
        shown = display(self.address)
        return f"{self.name} ({shown})" if self.name else shown


@dataclass
class Checked:
    """The form read and checked: recipients, when, and every problem in words."""

    recipients: list[Recipient] = field(default_factory=list)
    send_at: datetime | None = None
    problems: list[str] = field(default_factory=list)


def check_form(
    form: SendForm,
    user: WebUser,
    can_send: bool,
    builder: JobBuilder,
    book: ContactStore,
    now: datetime | None = None,
) -> Checked:
    """Everything about ``form`` except its documents: may the user send, to whom (each
    number read and checked against the dial rules), the options, the time."""
    checked = Checked()
    if not can_send:
        checked.problems.append(f"{user.email} may not send faxes (can_send = false in [[users]])")
    if form.resolution not in RESOLUTIONS:
        checked.problems.append("resolution is standard or fine")
    if form.priority not in PRIORITIES:
        checked.problems.append(f"priority is one of {', '.join(PRIORITIES)}")
    if form.cover_template:
        fax = builder.config.fax
        try:
            template_path(form.cover_template, fax.cover_template, fax.cover_templates)
        except UnknownCoverTemplate as exc:
            checked.problems.append(describe_error(exc))
    wanted: list[tuple[str, str, str]] = [(n, form.to_name, form.to_company) for n in form.typed_numbers()]
    contacts = {c.id: c for c in book.some(user.id, form.contact_ids)}
    for contact in [contacts[i] for i in form.contact_ids if i in contacts] + book.group_contacts(
        user.id, form.group_ids
    ):
        wanted.append((contact.fax_number, contact.name, contact.company))
    seen: set[str] = set()
    for number, name, company in wanted:
        try:
            address = builder.destination(number).address
        except InvalidNumber as exc:
            checked.problems.append(describe_error(exc))
            continue
        if address not in seen:
            seen.add(address)
            checked.recipients.append(Recipient(number, name, company, address))
    if not wanted:
        checked.problems.append("add a recipient: type a fax number or choose a contact or group")
    if len(checked.recipients) > MAX_RECIPIENTS:
        checked.problems.append(f"at most {MAX_RECIPIENTS} recipients per fax")
    if form.send_at:
        try:
            checked.send_at = send_time(form.send_at, form.tz_offset, now)
        except ValueError as exc:
            checked.problems.append(str(exc))
    return checked


def send_time(written: str, tz_offset: str, now: datetime | None = None) -> datetime | None:
    """The UTC time of a ``datetime-local`` value in the browser's zone (``tz_offset``:
    minutes west of UTC) or the server's; None when it is now or just past."""
    try:
        when = datetime.fromisoformat(written)
    except ValueError:
        raise ValueError(f"send at {written!r} is not a date and time (2026-12-07T18:30)") from None
    if when.tzinfo is None:
        if re.fullmatch(r"-?\d{1,4}", tz_offset) and abs(int(tz_offset)) <= 14 * 60:
            when = when.replace(tzinfo=timezone(-timedelta(minutes=int(tz_offset))))
        else:
            when = when.astimezone()  # the server's zone
    when = when.astimezone(UTC)
    now = now or datetime.now(UTC)
    if when < now - PAST_GRACE:
        raise ValueError(f"send at {written} is in the past; leave it empty to send now")
    return when if when > now else None


def fax_requests(
    form: SendForm, checked: Checked, documents: Sequence[DocumentIn], user: WebUser, ref: str
) -> list[FaxRequest]:
    """One request per recipient, as the REST API would make it (source "web"; ``ref``
    makes a repeated "Send" of the same preview return the same jobs)."""
    return [
        FaxRequest(
            number=recipient.number,
            documents=documents,
            sender=user.email,
            recipient_name=recipient.name,
            recipient_company=recipient.company,
            subject=form.subject,
            comments=form.comments,
            cover=form.cover,
            cover_template=form.cover_template,
            resolution=form.resolution,
            priority=PRIORITIES.get(form.priority, 0),
            send_at=checked.send_at,
            user_id=user.id,
            source="web",
            source_ref=f"{ref}:{n}",
        )
        for n, recipient in enumerate(checked.recipients)
    ]


def convert_for_preview(
    request: FaxRequest, builder: JobBuilder, config: Config, isolated: IsolatedConverter | None
) -> list[FaxPage]:
    """The pages the conversion worker would make for ``request``'s job (raises
    :class:`~umfax.conversion.ConversionError` saying why a document cannot be faxed)."""
    spec = builder.spec(request)
    job = Job(
        number=spec.number,
        recipient_name=spec.recipient_name,
        recipient_company=spec.recipient_company,
        sender=spec.sender,
        subject=spec.subject,
        comments=spec.comments,
        cover=spec.cover,
        cover_template=spec.cover_template,
        resolution=spec.resolution,
        paper=spec.paper,
        created_at=datetime.now(UTC),
    )
    documents = [
        Document(filename=d.filename, data=d.data, content_type=d.content_type) for d in request.documents
    ]
    pages = render(job, documents, config, isolated)
    return [FaxPage(p.data, p.width, p.length, p.x_res, p.y_res, p.encoding) for p in pages]  # type: ignore[arg-type]


def page_png(page: FaxPage) -> tuple[bytes, PreviewPage]:
    """The page's bitmap as a 1-bit PNG, pixel for pixel as it is coded.  A standard
    resolution row is about twice as tall as it is wide, so there each row is drawn twice:
    the picture then has the paper's proportions and still shows exactly the coded pixels."""
    rows = page_bitmap(page)
    repeat = max(1, round(page.x_res / page.y_res))
    if repeat > 1:
        rows = np.repeat(rows, repeat, axis=0)
    image: Image.Image = bitmap_image(rows, page.width)
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=True)
    return buf.getvalue(), PreviewPage(page.width, page.length, image.width, image.height)
