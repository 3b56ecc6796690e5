"""``/admin/queue``: faxes waiting or in a call, in the order lines take them; hold,
release, change the priority of, or cancel one (see :mod:`umfax.store.holds`)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from umfax.errors import InvalidTransition, NotFound
from umfax.store.holds import PRIORITY_RANGE, QueueControl, is_held
from umfax.web.audit import audit
from umfax.web.context import WebContext, web_context
from umfax.web.deps import current_admin
from umfax.web.identity import WebUser
from umfax.web.pages.admin_common import CHANGE, admin_router, done, note, refused
from umfax.web.render import render

router = admin_router()
PATH = "/admin/queue"


@router.get("/queue", response_class=HTMLResponse)
def queue(request: Request, web: WebContext = Depends(web_context)) -> HTMLResponse:  # noqa: B008
    jobs = QueueControl(web.store).queue()
    return render(
        request,
        "admin_queue.html",
        title="Queue",
        jobs=jobs,
        held={job.id for job in jobs if is_held(job)},
        note=note(request),
        priorities=(PRIORITY_RANGE.start, PRIORITY_RANGE.stop - 1),
    )


def _apply(
    request: Request, user: WebUser, job_id: int, action: str, code: str, change: Callable[[], object]
) -> Response:
    try:
        change()
    except NotFound as exc:
        return refused(request, str(exc), 404)
    except InvalidTransition as exc:
        return refused(request, str(exc))
    audit(request, user, action, "job", job_id, code)
    return done(PATH, code)


@router.post("/queue/{job_id}/hold", dependencies=CHANGE)
def hold(
    request: Request,
    job_id: int,
    user: WebUser = Depends(current_admin),  # noqa: B008
    web: WebContext = Depends(web_context),  # noqa: B008
) -> Response:
    control = QueueControl(web.store)
    return _apply(request, user, job_id, "change", "held", lambda: control.hold(job_id, user.email))


@router.post("/queue/{job_id}/release", dependencies=CHANGE)
def release(
    request: Request,
    job_id: int,
    user: WebUser = Depends(current_admin),  # noqa: B008
    web: WebContext = Depends(web_context),  # noqa: B008
) -> Response:
    control = QueueControl(web.store)
    return _apply(request, user, job_id, "change", "released", lambda: control.release(job_id, user.email))


@router.post("/queue/{job_id}/priority", dependencies=CHANGE)
def priority(
    request: Request,
    job_id: int,
    value: int = Form(alias="priority"),
    user: WebUser = Depends(current_admin),  # noqa: B008
    web: WebContext = Depends(web_context),  # noqa: B008
) -> Response:
    control = QueueControl(web.store)
    return _apply(
        request, user, job_id, "change", "priority", lambda: control.reprioritise(job_id, value, user.email)
    )


@router.post("/queue/{job_id}/cancel", dependencies=CHANGE)
def cancel(
    request: Request,
    job_id: int,
    user: WebUser = Depends(current_admin),  # noqa: B008
    web: WebContext = Depends(web_context),  # noqa: B008
) -> Response:
    return _apply(
        request, user, job_id, "cancel", "cancelled", lambda: web.store.cancel(job_id, by=user.email)
    )
