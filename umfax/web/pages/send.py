"""``/send``: the send form, its preview (every page as the line will send it), and Send.

POST ``/send`` reads the form (documents, recipients, cover, options), checks it as the
API would (may the user send, every number against the dial rules, sizes), converts the
documents with the conversion worker's own code off the event loop, and keeps the result
as a preview (:mod:`umfax.web.previews`) shown at ``/send/preview/{token}``; a document
that cannot be faxed is named on the form with the reason, and nothing is queued.
POST ``/send/preview/{token}`` queues one job per recipient and goes to the sent fax.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from umfax.conversion import ConversionError
from umfax.conversion.cover_templates import cover_templates, default_name
from umfax.conversion.detect import SUPPORTED
from umfax.conversion.isolated import IsolatedConverter
from umfax.errors import InvalidNumber, describe_error
from umfax.numbers import display
from umfax.store import DocumentIn
from umfax.store.contacts import ContactStore
from umfax.store.models import User
from umfax.submit import PRIORITIES, JobBuilder, submit_fax
from umfax.web.audit import audit
from umfax.web.context import WebContext, web_context
from umfax.web.deps import csrf_checked, current_user
from umfax.web.identity import WebUser
from umfax.web.previews import Draft, PreviewDocument, PreviewGone, PreviewStore
from umfax.web.render import render
from umfax.web.sending import (
    RESOLUTIONS,
    Checked,
    SendForm,
    check_form,
    convert_for_preview,
    fax_requests,
    page_png,
)

logger = logging.getLogger(__name__)
router = APIRouter()
SignedIn = Annotated[WebUser, Depends(current_user)]

#: What the file chooser offers (the converter judges by content, not by name).
ACCEPT = (
    ".pdf,.txt,.text,.tif,.tiff,.png,.jpg,.jpeg,.gif,.bmp,.docx,.doc,.odt,.rtf,.xlsx,.xls,.ods,"
    ".pptx,.ppt,.odp,application/pdf,text/plain,image/*"
)


_converter_lock = threading.Lock()


def preview_converter(request: Request) -> IsolatedConverter | None:
    """With ``[conversion] isolate`` (the default), the console's own child process for
    previews, under the same time and memory limits as the conversion worker's (started
    at the first preview, kept for the app's life); else None: convert in process."""
    settings = web_context(request).config.conversion
    if not settings.isolate:
        return None
    with _converter_lock:
        converter: IsolatedConverter | None = getattr(request.app.state, "send_preview_converter", None)
        if converter is None:
            converter = IsolatedConverter(settings.timeout, settings.memory_limit_mb * 1024 * 1024)
            request.app.state.send_preview_converter = converter
            request.app.state.closers.append(converter.close)
        return converter


def previews(context: WebContext) -> PreviewStore:
    return PreviewStore(context.config.server.data_dir / "console-previews")


def may_send(context: WebContext, user: WebUser) -> bool:
    with context.store.reading() as session:
        row = session.get(User, user.id)
        return bool(row is not None and row.can_send)


def _form_page(
    request: Request,
    user: WebUser,
    form: SendForm,
    *,
    problems: list[str] | None = None,
    draft: Draft | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = web_context(request)
    book = ContactStore(context.store)
    fax = context.config.fax
    return render(
        request,
        "send.html",
        status=status,
        title="Send a fax",
        form=form,
        problems=problems or [],
        draft=draft,
        contacts=book.contacts(user.id, limit=1000),
        groups=book.groups(user.id),
        resolutions=RESOLUTIONS,
        priorities=list(PRIORITIES),
        accept=ACCEPT,
        supported=SUPPORTED,
        cover_template=default_name(fax.cover_template),
        cover_templates=list(cover_templates(fax.cover_template, fax.cover_templates)),
        max_bytes=context.config.api.max_request_bytes,
        max_documents=context.config.api.max_documents,
        can_send=may_send(context, user),
        display=display,
    )


@router.get("/send", response_class=HTMLResponse)
def send_form(
    request: Request,
    user: SignedIn,
    to: str = "",
    draft: str = "",
) -> HTMLResponse:
    context = web_context(request)
    kept: Draft | None = None
    form = SendForm(numbers=to[:200], cover=context.config.fax.cover)
    if draft:
        try:
            kept = previews(context).get(user.id, draft)
            form = SendForm.from_dict(kept.form)
        except PreviewGone:
            kept = None
    chosen = {
        key: tuple(int(v) for v in request.query_params.getlist(name) if v.isdigit())
        for key, name in (("contact_ids", "contact"), ("group_ids", "group"))
    }
    if any(chosen.values()):
        form = SendForm(**{**form.to_dict(), **{k: v for k, v in chosen.items() if v}})
    return _form_page(request, user, form, draft=kept)


async def _uploads(request: Request, context: WebContext) -> tuple[list[tuple[str, Any]], list[DocumentIn]]:
    form = await request.form(max_files=context.config.api.max_documents, max_fields=2000)
    items = list(form.multi_items())
    documents: list[DocumentIn] = []
    for name, value in items:
        if name == "file" and isinstance(value, UploadFile) and value.filename:
            data = await value.read()
            documents.append(DocumentIn(value.filename, data, value.content_type or ""))
    return items, documents


@router.post("/send", response_class=HTMLResponse, dependencies=[Depends(csrf_checked)])
async def send_submit(request: Request, user: SignedIn) -> Response:
    """Check and convert the form; then show the preview, or (action=send) queue at once."""
    items, documents = await _uploads(request, web_context(request))
    return await run_in_threadpool(_check_and_convert, request, user, items, documents)


def _kept_documents(store: PreviewStore, draft: Draft) -> list[DocumentIn]:
    return [
        DocumentIn(d.filename, store.document(draft, n), d.content_type)
        for n, d in enumerate(draft.documents)
    ]


def _check_and_convert(
    request: Request, user: WebUser, items: list[tuple[str, Any]], documents: list[DocumentIn]
) -> Response:
    """The blocking part of POST /send (store, conversion, disk), in a worker thread."""
    context = web_context(request)
    form = SendForm.from_items(items)
    fields = {k: v for k, v in items if isinstance(v, str)}
    store = previews(context)
    kept: Draft | None = None
    if fields.get("draft"):
        try:
            kept = store.get(user.id, fields["draft"])
        except PreviewGone:
            kept = None
    if not documents and kept is not None:
        documents = _kept_documents(store, kept)
    builder = JobBuilder(context.config)
    checked = check_form(form, user, may_send(context, user), builder, ContactStore(context.store))
    problems = list(checked.problems)
    if not documents:
        problems.append("choose at least one document to fax")
    problems.extend(f"{d.filename} is empty (0 bytes); choose it again" for d in documents if not d.data)
    if len(documents) > context.config.api.max_documents:
        problems.append(f"at most {context.config.api.max_documents} documents per fax")
    if problems:
        return _form_page(request, user, form, problems=problems, draft=kept, status=422)
    first = fax_requests(form, checked, documents, user, ref="preview")[0]
    try:
        pages = convert_for_preview(first, builder, context.config, preview_converter(request))
        pngs = [page_png(page) for page in pages]
    except (ConversionError, InvalidNumber) as exc:
        reason = describe_error(exc)
        logger.info("console preview refused", extra={"user": user.name, "reason": reason})
        return _form_page(request, user, form, problems=[reason], draft=kept, status=422)
    draft = Draft(
        owner=user.id,
        created=time.time(),
        form=form.to_dict(),
        documents=[PreviewDocument(d.filename, d.content_type, len(d.data)) for d in documents],
        pages=[page for _, page in pngs],
    )
    token = store.save(draft, [d.data for d in documents], [png for png, _ in pngs])
    if kept is not None:
        store.discard(kept.token)
    if fields.get("action") == "send":
        return _queue(request, user, draft, checked, documents)
    return RedirectResponse(f"/send/preview/{token}", status_code=303)


@router.get("/send/preview/{token}", response_class=HTMLResponse)
def preview_page(request: Request, token: str, user: SignedIn) -> HTMLResponse:
    context = web_context(request)
    try:
        draft = previews(context).get(user.id, token)
    except PreviewGone as exc:
        return render(request, "error.html", status=404, title="No such preview", message=str(exc))
    form = SendForm.from_dict(draft.form)
    builder = JobBuilder(context.config)
    checked = check_form(form, user, may_send(context, user), builder, ContactStore(context.store))
    return _preview_page(request, draft, checked, checked.problems)


@router.get("/send/preview/{token}/page/{number}.png")
def preview_image(request: Request, token: str, number: int, user: SignedIn) -> Response:
    """Page ``number`` (1-based) of the user's own preview; anyone else's is 404."""
    try:
        png = previews(web_context(request)).page(user.id, token, number - 1)
    except (PreviewGone, OSError):
        return Response("no such page", status_code=404, media_type="text/plain")
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=600"})


@router.post("/send/preview/{token}", dependencies=[Depends(csrf_checked)], response_class=HTMLResponse)
def preview_send(request: Request, token: str, user: SignedIn) -> Response:
    """Send the previewed fax: checked again (rules or rights may have changed), then queued."""
    context = web_context(request)
    store = previews(context)
    try:
        draft = store.get(user.id, token)
    except PreviewGone as exc:
        return render(request, "error.html", status=404, title="No such preview", message=str(exc))
    form = SendForm.from_dict(draft.form)
    builder = JobBuilder(context.config)
    checked = check_form(form, user, may_send(context, user), builder, ContactStore(context.store))
    if checked.problems:
        return _preview_page(request, draft, checked, checked.problems, status=422)
    return _queue(request, user, draft, checked, _kept_documents(store, draft))


def _preview_page(
    request: Request, draft: Draft, checked: Checked, problems: list[str], status: int = 200
) -> HTMLResponse:
    return render(
        request,
        "send_preview.html",
        status=status,
        title="Preview",
        draft=draft,
        form=SendForm.from_dict(draft.form),
        checked=checked,
        problems=problems,
        expires=round(previews(web_context(request)).lifetime / 60),
    )


def _queue(
    request: Request, user: WebUser, draft: Draft, checked: Checked, documents: list[DocumentIn]
) -> Response:
    """Submit one job per recipient (as the API does), audit, and go to the sent fax(es)."""
    context = web_context(request)
    form = SendForm.from_dict(draft.form)
    jobs = []
    try:
        for fax in fax_requests(form, checked, documents, user, ref=f"web:{draft.token}"):
            jobs.append(submit_fax(context.store, context.config, fax))
    except InvalidNumber as exc:  # the dial rules changed since the check
        return _preview_page(request, draft, checked, [describe_error(exc)], status=422)
    for job in jobs:
        audit(request, user, "send", "job", job.id, f"to {job.number}, {len(documents)} document(s)")
    previews(context).discard(draft.token)
    logger.info("console fax queued", extra={"user": user.name, "jobs": [job.id for job in jobs]})
    target = f"/faxes/{jobs[0].id}" if len(jobs) == 1 else "/faxes"
    return RedirectResponse(target, status_code=303)
