"""``/contacts``: the signed-in user's address book: contacts, groups, CSV and vCard import.

Everything is the user's own (admins included: an address book is personal); another
user's contact or group answers 404, as one that does not exist.  Numbers are read as
the send form reads them (:meth:`umfax.numbers.DialPlan.destination`, so extensions
work) and stored in that form.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from umfax.contacts_import import MAX_IMPORT_BYTES, ImportRefused, read_contacts
from umfax.errors import InvalidNumber, NotFound, describe_error
from umfax.numbers import DialPlan, display
from umfax.store.contacts import AddressBookFull, ContactIn, ContactStore
from umfax.web.audit import audit
from umfax.web.context import web_context
from umfax.web.deps import csrf_checked, current_user
from umfax.web.identity import WebUser
from umfax.web.render import render

router = APIRouter()
SignedIn = Annotated[WebUser, Depends(current_user)]
CHANGES = [Depends(csrf_checked)]
#: Contacts listed on one page; a search finds the others.
LIST_LIMIT = 500


def _book(request: Request) -> ContactStore:
    return ContactStore(web_context(request).store)


def _plan(request: Request) -> DialPlan:
    config = web_context(request).config
    return DialPlan(config.dial_rules, config.fax.default_country)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _ids(form: FormData, name: str) -> list[int]:
    return [int(v) for v in form.getlist(name) if isinstance(v, str) and v.isdigit()]


def _missing(request: Request, what: str) -> HTMLResponse:
    return render(request, "error.html", status=404, title="Not found", message=f"there is no {what}")


def _contact_in(request: Request, form: FormData) -> ContactIn:
    """The contact of the form; InvalidNumber (in words) for a number that cannot be read."""
    number = _plan(request).destination(_text(form, "fax_number")).address
    name = _text(form, "name") or number
    return ContactIn(
        name=name,
        fax_number=number,
        company=_text(form, "company"),
        email=_text(form, "email"),
        note=_text(form, "note"),
    )


def _list_page(
    request: Request,
    user: WebUser,
    *,
    problems: list[str] | None = None,
    entered: dict[str, str] | None = None,
    imported: dict[str, object] | None = None,
    status: int = 200,
) -> HTMLResponse:
    book = _book(request)
    search = request.query_params.get("q", "")[:100]
    return render(
        request,
        "contacts.html",
        status=status,
        title="Contacts",
        contacts=book.contacts(user.id, search=search, limit=LIST_LIMIT + 1),
        list_limit=LIST_LIMIT,
        groups=book.groups(user.id),
        search=search,
        problems=problems or [],
        entered=entered or {},
        imported=imported,
        max_import_kb=MAX_IMPORT_BYTES // 1024,
        display=display,
    )


@router.get("/contacts", response_class=HTMLResponse)
def contacts_page(request: Request, user: SignedIn) -> HTMLResponse:
    return _list_page(request, user)


@router.post("/contacts", response_class=HTMLResponse, dependencies=CHANGES)
async def add_contact(request: Request, user: SignedIn) -> Response:
    return await run_in_threadpool(_add_contact, request, user, await request.form())


def _add_contact(request: Request, user: WebUser, form: FormData) -> Response:
    try:
        _book(request).add(user.id, _contact_in(request, form))
    except (InvalidNumber, AddressBookFull) as exc:
        entered = {k: _text(form, k) for k in ("name", "company", "fax_number", "email", "note")}
        return _list_page(request, user, problems=[describe_error(exc)], entered=entered, status=422)
    return RedirectResponse("/contacts", status_code=303)


@router.post("/contacts/import", response_class=HTMLResponse, dependencies=CHANGES)
async def import_contacts(request: Request, user: SignedIn) -> Response:
    """Add the contacts of an uploaded CSV or vCard file (optionally to a new or existing
    group); the rows it could not take are listed in words."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        problems = ["choose a CSV or vCard file to import"]
        return await run_in_threadpool(_list_page, request, user, problems=problems, status=422)
    data = await upload.read(MAX_IMPORT_BYTES + 1)
    return await run_in_threadpool(_import, request, user, upload.filename, data, _text(form, "group")[:200])


def _import(request: Request, user: WebUser, filename: str, data: bytes, group_name: str) -> Response:
    plan = _plan(request)
    try:
        result = read_contacts(filename, data, lambda raw: plan.destination(raw).address)
        book = _book(request)
        ids = book.add_many(user.id, result.contacts)
        if group_name and ids:
            existing = {g.name: g.id for g in book.groups(user.id)}
            group = existing.get(group_name) or book.create_group(user.id, group_name)
            book.add_members(user.id, group, ids)
    except (ImportRefused, AddressBookFull) as exc:
        problem = f"{filename}: {describe_error(exc)}; nothing was imported"
        return _list_page(request, user, problems=[problem], status=422)
    audit(request, user, "change", "contacts", None, f"imported {len(ids)} from {filename}")
    summary = {
        "filename": filename,
        "added": len(ids),
        "skipped": result.skipped,
        "problems": result.problems,
    }
    return _list_page(request, user, imported=summary)


# -- groups (before /contacts/{id}: "groups" is not a contact id) ------------------------------


@router.post("/contacts/groups", response_class=HTMLResponse, dependencies=CHANGES)
async def create_group(request: Request, user: SignedIn) -> Response:
    return await run_in_threadpool(_create_group, request, user, _text(await request.form(), "name"))


def _create_group(request: Request, user: WebUser, name: str) -> Response:
    if not name:
        return _list_page(request, user, problems=["give the group a name"], status=422)
    try:
        group = _book(request).create_group(user.id, name)
    except AddressBookFull as exc:
        return _list_page(request, user, problems=[describe_error(exc)], status=422)
    return RedirectResponse(f"/contacts/groups/{group}", status_code=303)


@router.get("/contacts/groups/{group_id}", response_class=HTMLResponse)
def group_page(request: Request, group_id: int, user: SignedIn) -> HTMLResponse:
    book = _book(request)
    try:
        group = book.group(user.id, group_id)
    except NotFound:
        return _missing(request, f"group {group_id}")
    everyone = book.contacts(user.id)
    members = [c for c in everyone if c.id in group.member_ids]
    others = [c for c in everyone if c.id not in group.member_ids]
    return render(
        request,
        "contacts_group.html",
        title=group.name,
        group=group,
        members=members,
        others=others,
        display=display,
    )


@router.post("/contacts/groups/{group_id}", response_class=HTMLResponse, dependencies=CHANGES)
async def rename_group(request: Request, group_id: int, user: SignedIn) -> Response:
    name = _text(await request.form(), "name")
    try:
        if name:
            await run_in_threadpool(_book(request).rename_group, user.id, group_id, name)
    except NotFound:
        return _missing(request, f"group {group_id}")
    return RedirectResponse(f"/contacts/groups/{group_id}", status_code=303)


@router.post("/contacts/groups/{group_id}/members", response_class=HTMLResponse, dependencies=CHANGES)
async def add_members(request: Request, group_id: int, user: SignedIn) -> Response:
    ids = _ids(await request.form(), "contact")
    try:
        await run_in_threadpool(_book(request).add_members, user.id, group_id, ids)
    except NotFound:
        return _missing(request, f"group {group_id}")
    return RedirectResponse(f"/contacts/groups/{group_id}", status_code=303)


@router.post(
    "/contacts/groups/{group_id}/members/{contact_id}/remove",
    response_class=HTMLResponse,
    dependencies=CHANGES,
)
def remove_member(request: Request, group_id: int, contact_id: int, user: SignedIn) -> Response:
    try:
        _book(request).remove_member(user.id, group_id, contact_id)
    except NotFound:
        return _missing(request, f"group {group_id}")
    return RedirectResponse(f"/contacts/groups/{group_id}", status_code=303)


@router.post("/contacts/groups/{group_id}/delete", response_class=HTMLResponse, dependencies=CHANGES)
def delete_group(request: Request, group_id: int, user: SignedIn) -> Response:
    try:
        _book(request).delete_group(user.id, group_id)
    except NotFound:
        return _missing(request, f"group {group_id}")
    audit(request, user, "delete", "contact_group", group_id)
    return RedirectResponse("/contacts", status_code=303)


# -- one contact ---------------------------------------------------------------------------------


@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
def contact_page(request: Request, contact_id: int, user: SignedIn) -> HTMLResponse:
    try:
        contact = _book(request).contact(user.id, contact_id)
    except NotFound:
        return _missing(request, f"contact {contact_id}")
    entered = {
        "name": contact.name,
        "company": contact.company,
        "fax_number": contact.fax_number,
        "email": contact.email,
        "note": contact.note,
    }
    return render(
        request, "contacts_edit.html", title=contact.name, contact=contact, entered=entered, problems=[]
    )


@router.post("/contacts/{contact_id}", response_class=HTMLResponse, dependencies=CHANGES)
async def edit_contact(request: Request, contact_id: int, user: SignedIn) -> Response:
    return await run_in_threadpool(_edit_contact, request, contact_id, user, await request.form())


def _edit_contact(request: Request, contact_id: int, user: WebUser, form: FormData) -> Response:
    book = _book(request)
    try:
        contact = book.contact(user.id, contact_id)
    except NotFound:
        return _missing(request, f"contact {contact_id}")
    try:
        book.update(user.id, contact_id, _contact_in(request, form))
    except InvalidNumber as exc:
        entered = {k: _text(form, k) for k in ("name", "company", "fax_number", "email", "note")}
        return render(
            request,
            "contacts_edit.html",
            status=422,
            title=contact.name,
            contact=contact,
            entered=entered,
            problems=[describe_error(exc)],
        )
    return RedirectResponse("/contacts", status_code=303)


@router.post("/contacts/{contact_id}/delete", response_class=HTMLResponse, dependencies=CHANGES)
def delete_contact(request: Request, contact_id: int, user: SignedIn) -> Response:
    try:
        _book(request).delete(user.id, contact_id)
    except NotFound:
        return _missing(request, f"contact {contact_id}")
    audit(request, user, "delete", "contact", contact_id)
    return RedirectResponse("/contacts", status_code=303)
