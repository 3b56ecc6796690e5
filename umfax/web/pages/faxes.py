"""``/faxes``: the faxes a person sent (admins: everyone's), each with its calls, live.

Every record is read through :class:`umfax.store.console_faxes.SentStore`, scoped to the
signed-in person in SQL; someone else's fax answers 404 on every route.  ``/faxes/events``
streams status changes (server-sent events from :mod:`umfax.web.live`) to the open page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from umfax.errors import InvalidNumber, InvalidTransition, describe_error
from umfax.lifecycle import CAUSE_TEXT, FailureCause, JobState
from umfax.numbers import display
from umfax.store import DocumentIn
from umfax.store.console_faxes import SentStore
from umfax.store.console_inbox import Cursor
from umfax.store.models import Job
from umfax.submit import FaxRequest, submit_fax
from umfax.web.audit import audit
from umfax.web.context import web_context
from umfax.web.deps import csrf_checked, current_user
from umfax.web.identity import WebUser
from umfax.web.live import LiveHub, stream
from umfax.web.render import render
from umfax.web.scoping import image_response, not_found, variant_of, viewer_of

router = APIRouter()
User = Annotated[WebUser, Depends(current_user)]
CHANGES = [Depends(csrf_checked)]

#: What to do about each failure, in plain words, beside lifecycle.CAUSE_TEXT.
ADVICE: dict[FailureCause, str] = {
    FailureCause.BUSY: "Nothing: umfax tries again by itself. If it stays busy, check the number.",
    FailureCause.NO_ANSWER: "Check that the number is a fax number, or ask the recipient to switch their "
    "machine on.",
    FailureCause.NO_CARRIER: "A person or a phone may have answered: check that the number is a fax line.",
    FailureCause.NO_DIALTONE: "Tell your administrator: the fax line may be disconnected.",
    FailureCause.PROTOCOL_ERROR: "Retry; if it fails again, try standard resolution or ask the recipient "
    "about their machine.",
    FailureCause.REMOTE_REJECTED: "The recipient's machine refused it (out of paper or memory?): "
    "ask them, then retry.",
    FailureCause.LINE_DROPPED: "Retry: a noisy line often works on another try.",
    FailureCause.MODEM_ERROR: "Nothing: umfax tries another line. Tell your administrator if it "
    "keeps happening.",
    FailureCause.CANCELLED: "Retry to send it after all.",
    FailureCause.BAD_DOCUMENT: "Send the document again in another format (PDF works best).",
    FailureCause.INVALID_NUMBER: "Correct the number and resend it.",
    FailureCause.BLOCKED_NUMBER: "This destination is not allowed here; ask your administrator.",
    FailureCause.NO_T38: "Retry; if it keeps failing, tell your administrator (SIP line without T.38).",
    FailureCause.INTERRUPTED: "Nothing: umfax sends it again after the restart.",
}


def _sent(request: Request) -> SentStore:
    return SentStore(web_context(request).store)


def hub_of(request: Request) -> LiveHub:
    """The process's one event poller (made on first use, on the server's loop)."""
    state = request.app.state
    hub: LiveHub | None = getattr(state, "live_hub", None)
    if hub is None:
        hub = LiveHub(web_context(request).store)
        state.live_hub = hub
    return hub


def why(job: Job) -> tuple[str, str]:
    """(what went wrong, what to do) in plain words, or empty strings."""
    if not job.last_cause or job.state not in (JobState.FAILED, JobState.CANCELLED, JobState.QUEUED):
        return "", ""
    try:
        cause = FailureCause(job.last_cause)
    except ValueError:
        return job.status, ""
    return CAUSE_TEXT[cause].capitalize() + ".", ADVICE.get(cause, "")


@router.get("/faxes", response_class=HTMLResponse)
def fax_list(request: Request, user: User, after: str = "", owner: int | None = None) -> HTMLResponse:
    viewer = viewer_of(user)
    cursor = Cursor.parse(after) if after else None
    sent = _sent(request)
    listed = sent.listing(viewer, owner=owner, after=cursor)
    users = sent.users() if user.admin else []
    more = (
        f"?after={listed.next.token()}" + (f"&owner={owner}" if owner is not None else "")
        if listed.next
        else ""
    )
    return render(
        request,
        "faxes.html",
        title="Sent faxes",
        jobs=listed.jobs,
        owners=listed.owners,
        users=users,
        owner=owner,
        more=more,
        display=display,
    )


@router.get("/faxes/events")
async def fax_events(request: Request, user: User, job: int | None = None) -> Response:
    """Server-sent events: status changes of the person's faxes (or of fax ``job``)."""
    viewer = viewer_of(user)
    if job is not None and await run_in_threadpool(_sent(request).find, viewer, job) is None:
        return not_found(request)
    hub = hub_of(request)
    subscriber = await hub.subscribe(viewer, job)
    return StreamingResponse(
        stream(hub, subscriber),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/faxes/{job_id}", response_class=HTMLResponse)
def fax_detail(request: Request, user: User, job_id: int) -> HTMLResponse:
    sent = _sent(request)
    job = sent.find(viewer_of(user), job_id)
    if job is None:
        return not_found(request)
    store = web_context(request).store
    what, todo = why(job)
    state = JobState(job.state)
    audit(request, user, "view", "job", job.id)
    return render(
        request,
        "fax.html",
        title=f"Fax {job.id}",
        job=job,
        attempts=sent.attempts(job.id),
        documents=store.documents(job.id),
        pages=sent.page_count(job.id),
        what=what,
        todo=todo,
        can_cancel=not state.terminal,
        can_retry=state in (JobState.FAILED, JobState.CANCELLED, JobState.PENDING, JobState.QUEUED),
        display=display,
    )


def _acted(request: Request, user: WebUser, job_id: int, action: str) -> Response:
    sent = _sent(request)
    if sent.find(viewer_of(user), job_id) is None:
        return not_found(request)
    store = web_context(request).store
    try:
        if action == "cancel":
            store.cancel(job_id, by=user.email)
        else:
            store.retry(job_id, by=user.email)
    except InvalidTransition as exc:
        return render(
            request, "error.html", status=409, title="Not possible now", message=describe_error(exc)
        )
    audit(request, user, action, "job", job_id)
    return RedirectResponse(f"/faxes/{job_id}", status_code=303)


@router.post("/faxes/{job_id}/cancel", dependencies=CHANGES)
def fax_cancel(request: Request, user: User, job_id: int) -> Response:
    return _acted(request, user, job_id, "cancel")


@router.post("/faxes/{job_id}/retry", dependencies=CHANGES)
def fax_retry(request: Request, user: User, job_id: int) -> Response:
    return _acted(request, user, job_id, "retry")


@router.post("/faxes/{job_id}/resend", dependencies=CHANGES)
def fax_resend(request: Request, user: User, job_id: int, number: Annotated[str, Form()]) -> Response:
    """The same documents to another number: a new job."""
    context = web_context(request)
    job = _sent(request).find(viewer_of(user), job_id)
    if job is None:
        return not_found(request)
    documents = [DocumentIn(d.filename, d.data, d.content_type) for d in context.store.documents(job.id)]
    if not documents:
        return render(
            request,
            "error.html",
            status=409,
            title="Nothing to resend",
            message=f"Fax {job.id} has no documents.",
        )
    try:
        new = submit_fax(
            context.store,
            context.config,
            FaxRequest(
                number=number,
                documents=documents,
                sender=user.email,
                recipient_name="",
                subject=job.subject,
                comments=job.comments,
                cover=job.cover,
                resolution=job.resolution,
                paper=job.paper,
                user_id=user.id,
                source="web",
            ),
        )
    except InvalidNumber as exc:
        return render(
            request, "error.html", status=422, title="Not a fax number", message=describe_error(exc)
        )
    audit(request, user, "send", "job", new.id, f"resend of fax {job.id}")
    return RedirectResponse(f"/faxes/{new.id}", status_code=303)


@router.get("/faxes/{job_id}/pages/{seq}.png")
def fax_page(request: Request, user: User, job_id: int, seq: int, size: str = "full") -> Response:
    page = _sent(request).page(viewer_of(user), job_id, seq)
    return image_response(request, "pages", page, variant_of(size))


@router.get("/faxes/{job_id}/pdf")
def fax_pdf(request: Request, user: User, job_id: int) -> Response:
    from umfax.api.resources import pages_file
    from umfax.conversion import tiff_to_pages

    job = _sent(request).find(viewer_of(user), job_id)
    if job is None:
        return not_found(request)
    pages = [p for page in web_context(request).store.pages(job.id) for p in tiff_to_pages(page.data)]
    if not pages:
        return render(
            request,
            "error.html",
            status=409,
            title="No pages yet",
            message=f"Fax {job.id} is {job.state}: it has no pages yet.",
        )
    audit(request, user, "download", "job", job.id, "pdf")
    return pages_file(pages, "pdf", f"fax-{job.id}", f"Fax {job.id}")


@router.get("/faxes/{job_id}/report")
def fax_report(request: Request, user: User, job_id: int) -> Response:
    """The status report umfax mails when a fax is done, as a message file (.eml)."""
    from umfax.notifications.dispatch import load_job_report
    from umfax.notifications.reports import job_report

    context = web_context(request)
    job = _sent(request).find(viewer_of(user), job_id)
    if job is None:
        return not_found(request)
    out = job_report(context.config, load_job_report(context.store, job.id), user.email, 0)
    audit(request, user, "download", "job", job.id, "report")
    return Response(
        bytes(out.message),
        media_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="fax-{job.id}-report.eml"'},
    )
