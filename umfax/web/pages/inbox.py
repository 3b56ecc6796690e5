"""``/inbox``: received faxes and voice messages routed to the person (admins: all, and
the quarantine), with a page viewer, notes and tags (shared by everyone the item
reaches), read marks and "remove from my inbox" (each person's own), assign, forward,
and an administrator's delete for everyone.

Every route reads through :class:`umfax.store.console_inbox.InboxStore`, scoped to the
signed-in person in SQL; an item they may not see answers 404 on every route.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from umfax.conversion.model import FaxPage
from umfax.errors import InvalidNumber, describe_error
from umfax.numbers import DialPlan, display
from umfax.store import DocumentIn
from umfax.store.console_inbox import Cursor, InboxQuery, InboxStore
from umfax.submit import FaxRequest, submit_fax
from umfax.web.audit import audit
from umfax.web.context import web_context
from umfax.web.deps import csrf_checked, current_admin, current_user
from umfax.web.identity import WebUser
from umfax.web.render import render
from umfax.web.scoping import image_response, not_found, variant_of, viewer_of

router = APIRouter()
User = Annotated[WebUser, Depends(current_user)]
CHANGES = [Depends(csrf_checked)]
PAGE_SIZE = 50


def _inbox(request: Request) -> InboxStore:
    return InboxStore(web_context(request).store)


def _day(text: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(text), time(), UTC) if text else None
    except ValueError:
        return None


def _full_numbers(request: Request, text: str) -> tuple[str, ...]:
    """``text`` as a caller's number may be stored: as typed, digits only, and in E.164
    (by the dial plan, as the API reads ``?to=``); empty if it is not a whole number."""
    text = text.strip()
    digits = "".join(c for c in text if c.isdigit())
    if len(digits) < 6:
        return ()
    config = web_context(request).config
    try:
        e164 = DialPlan(config.dial_rules, config.fax.default_country).destination(text).address
    except InvalidNumber:
        return ()
    return tuple(dict.fromkeys((e164, text, digits, "+" + digits)))


@router.get("/inbox", response_class=HTMLResponse)
def inbox_list(
    request: Request,
    user: User,
    number: str = "",
    station: str = "",
    since: str = "",
    until: str = "",
    tag: str = "",
    quarantined: bool = False,
    after: str = "",
) -> HTMLResponse:
    last_day = _day(until)
    query = InboxQuery(
        number=number[:64],
        numbers=_full_numbers(request, number[:64]),
        station=station[:100],
        since=_day(since),
        until=last_day + timedelta(days=1) if last_day else None,
        tag=tag[:64],
        quarantined=quarantined and user.admin,
        after=Cursor.parse(after) if after else None,
    )
    page = _inbox(request).listing(viewer_of(user), query, PAGE_SIZE)
    search = {"number": number, "station": station, "since": since, "until": until, "tag": tag}
    kept = "&".join(f"{k}={v}" for k, v in search.items() if v) + (
        "&quarantined=true" if query.quarantined else ""
    )
    more = f"?{kept}&after={page.next.token()}" if page.next else ""
    return render(
        request,
        "inbox.html",
        title="Quarantine" if query.quarantined else "Inbox",
        rows=page.rows,
        search=search,
        quarantined=query.quarantined,
        more=more,
        display=display,
    )


@router.get("/inbox/{inbound_id}", response_class=HTMLResponse)
def inbox_item(request: Request, user: User, inbound_id: int) -> HTMLResponse:
    inbox = _inbox(request)
    viewer = viewer_of(user)
    detail = inbox.detail(viewer, inbound_id)
    if detail is None:
        return not_found(request, "received fax")
    if not detail.read:  # opened: read, as in a mail client ("Mark unread" undoes it)
        inbox.mark_read(viewer, inbound_id)
    newer, older = inbox.neighbours(viewer, detail.fax)
    audit(request, user, "view", "inbound", inbound_id)
    return render(
        request,
        "inbox_item.html",
        title=("Voice message" if detail.fax.kind == "voice" else "Received fax") + f" {inbound_id}",
        item=detail,
        fax=detail.fax,
        newer=newer,
        older=older,
        users=inbox.users(),
        display=display,
        forward_by_email=web_context(request).config.console.forward_by_email,
    )


@router.get("/inbox/{inbound_id}/pages/{seq}.png")
def inbox_page(request: Request, user: User, inbound_id: int, seq: int, size: str = "full") -> Response:
    page = _inbox(request).page(viewer_of(user), inbound_id, seq)
    return image_response(request, "inbound_pages", page, variant_of(size))


@router.get("/inbox/{inbound_id}/audio")
def inbox_audio(request: Request, user: User, inbound_id: int) -> Response:
    audio = _inbox(request).audio(viewer_of(user), inbound_id)
    if audio is None:
        return not_found(request, "voice message")
    return Response(
        audio.wav,
        media_type="audio/wav",
        headers={
            "Cache-Control": "private, max-age=3600",
            "Content-Disposition": f'inline; filename="voice-{inbound_id}.wav"',
        },
    )


def _received_pages(request: Request, inbound_id: int) -> list[FaxPage]:
    from umfax.conversion import tiff_to_pages

    store = web_context(request).store
    return [p for page in store.inbound_pages(inbound_id) for p in tiff_to_pages(page.data)]


@router.get("/inbox/{inbound_id}/pdf")
def inbox_pdf(request: Request, user: User, inbound_id: int) -> Response:
    from umfax.api.resources import pages_file

    if _inbox(request).find(viewer_of(user), inbound_id) is None:
        return not_found(request, "received fax")
    pages = _received_pages(request, inbound_id)
    if not pages:
        return not_found(request, "page")
    audit(request, user, "download", "inbound", inbound_id, "pdf")
    return pages_file(pages, "pdf", f"received-{inbound_id}", f"Received fax {inbound_id}")


def _back(inbound_id: int) -> RedirectResponse:
    return RedirectResponse(f"/inbox/{inbound_id}", status_code=303)


@router.post("/inbox/{inbound_id}/read", dependencies=CHANGES)
def inbox_read(request: Request, user: User, inbound_id: int, read: Annotated[str, Form()] = "1") -> Response:
    inbox = _inbox(request)
    viewer = viewer_of(user)
    if inbox.find(viewer, inbound_id) is None:
        return not_found(request, "received fax")
    inbox.mark_read(viewer, inbound_id, read == "1")
    return _back(inbound_id) if read == "1" else RedirectResponse("/inbox", status_code=303)


@router.post("/inbox/{inbound_id}/note", dependencies=CHANGES)
def inbox_note(request: Request, user: User, inbound_id: int, note: Annotated[str, Form()] = "") -> Response:
    inbox = _inbox(request)
    if inbox.find(viewer_of(user), inbound_id) is None:
        return not_found(request, "received fax")
    inbox.set_note(inbound_id, note)
    return _back(inbound_id)


@router.post("/inbox/{inbound_id}/tags", dependencies=CHANGES)
def inbox_tag(
    request: Request,
    user: User,
    inbound_id: int,
    tag: Annotated[str, Form()] = "",
    remove: Annotated[str, Form()] = "",
) -> Response:
    inbox = _inbox(request)
    if inbox.find(viewer_of(user), inbound_id) is None:
        return not_found(request, "received fax")
    if remove:
        inbox.remove_tag(inbound_id, remove)
    else:
        inbox.add_tag(inbound_id, tag)
    return _back(inbound_id)


@router.post("/inbox/{inbound_id}/assign", dependencies=CHANGES)
def inbox_assign(request: Request, user: User, inbound_id: int, assignee: Annotated[int, Form()]) -> Response:
    inbox = _inbox(request)
    if inbox.find(viewer_of(user), inbound_id) is None:
        return not_found(request, "received fax")
    name = inbox.assign(inbound_id, assignee)
    if name is None:
        return render(
            request, "error.html", status=422, title="No such user", message="Choose a user from the list."
        )
    audit(request, user, "assign", "inbound", inbound_id, f"to {name}")
    return _back(inbound_id)


@router.post("/inbox/{inbound_id}/forward", dependencies=CHANGES)
def inbox_forward(
    request: Request,
    user: User,
    inbound_id: int,
    to_user: Annotated[str, Form()] = "",
    number: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
) -> Response:
    """To another user (their inbox, and mail through their delivery), by email to an
    address, or by fax to a number."""
    inbox = _inbox(request)
    fax = inbox.find(viewer_of(user), inbound_id)
    if fax is None:
        return not_found(request, "received fax")
    if email:
        return _forward_by_email(request, user, inbound_id, email.strip())
    if to_user:
        if not inbox.forward(inbound_id, to_user):
            return render(
                request,
                "error.html",
                status=422,
                title="No such user",
                message="Choose a user from the list.",
            )
        audit(request, user, "forward", "inbound", inbound_id, f"to user {to_user}")
        return _back(inbound_id)
    return _forward_by_fax(request, user, inbound_id, number)


#: One address, no display name or list: what a person types in the form.
_ADDRESS = re.compile(r"[^@\s<>,;\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")


def _forward_by_email(request: Request, user: WebUser, inbound_id: int, address: str) -> Response:
    context = web_context(request)
    if not context.config.console.forward_by_email:
        return render(request, "error.html", status=403, title="Cannot forward",
                      message="Forwarding by email is turned off on this server ([console] "
                              "forward_by_email); forward to a user instead.")
    if not _ADDRESS.fullmatch(address):
        return render(request, "error.html", status=422, title="Cannot forward",
                      message=f"{address[:80]!r} is not an email address (name@example.com).")
    if not context.config.mail.smtp_host:
        return render(request, "error.html", status=422, title="Cannot forward",
                      message="This server has no outgoing mail server ([mail] smtp_host); "
                              "forward to a user or by fax instead.")
    _inbox(request).forward_by_email(inbound_id, address)
    audit(request, user, "forward", "inbound", inbound_id, f"by email to {address}")
    return _back(inbound_id)


def _forward_by_fax(request: Request, user: WebUser, inbound_id: int, number: str) -> Response:
    from umfax.conversion.pages import pages_to_tiff

    context = web_context(request)
    pages = _received_pages(request, inbound_id)
    if not pages or not number.strip():
        return render(
            request,
            "error.html",
            status=422,
            title="Cannot forward",
            message="Give a fax number; only a fax with pages can be forwarded by fax.",
        )
    document = DocumentIn(f"received-{inbound_id}.tif", pages_to_tiff(pages), "image/tiff")
    try:
        job = submit_fax(
            context.store,
            context.config,
            FaxRequest(
                number=number,
                documents=[document],
                sender=user.email,
                cover=False,
                subject=f"Forwarded fax {inbound_id}",
                user_id=user.id,
                source="web",
            ),
        )
    except InvalidNumber as exc:
        return render(
            request, "error.html", status=422, title="Not a fax number", message=describe_error(exc)
        )
    audit(request, user, "forward", "inbound", inbound_id, f"by fax, job {job.id}")
    return RedirectResponse(f"/faxes/{job.id}", status_code=303)


@router.post("/inbox/{inbound_id}/remove", dependencies=CHANGES)
def inbox_remove(request: Request, user: User, inbound_id: int) -> Response:
    """Out of the person's own inbox (and their REST API list); others keep it."""
    inbox = _inbox(request)
    viewer = viewer_of(user)
    if inbox.find(viewer, inbound_id) is None:
        return not_found(request, "received fax")
    inbox.remove(viewer, inbound_id)
    audit(request, user, "delete", "inbound", inbound_id, "from their inbox")
    return RedirectResponse("/inbox", status_code=303)


@router.post("/inbox/{inbound_id}/delete", dependencies=CHANGES)
def inbox_delete(request: Request, user: User, inbound_id: int) -> Response:
    """An administrator's delete: out of every inbox (kept for retention and the audit).
    Someone else's item answers 404 as on every route; one's own, 403."""
    inbox = _inbox(request)
    if inbox.find(viewer_of(user), inbound_id) is None:
        return not_found(request, "received fax")
    current_admin(user)
    inbox.delete(inbound_id)
    audit(request, user, "delete", "inbound", inbound_id, "for everyone")
    return RedirectResponse("/inbox", status_code=303)
