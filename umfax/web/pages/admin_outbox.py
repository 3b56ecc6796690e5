"""``/admin/outbox``: notices being delivered (reports, received faxes, webhooks...) and
dead letters, newest first in pages; a dead (or done) notice can be delivered again."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from umfax.errors import NotFound
from umfax.states import OutboxState
from umfax.store.models import Outbox
from umfax.store.outbox import OutboxStore
from umfax.web.audit import audit
from umfax.web.context import WebContext, web_context
from umfax.web.deps import current_admin
from umfax.web.identity import WebUser
from umfax.web.pages.admin_common import CHANGE, admin_router, done, note, refused
from umfax.web.render import render

router = admin_router()
PATH = "/admin/outbox"
PAGE_SIZE = 100


def outbox_page(web: WebContext, state: str, before: int | None) -> list[Outbox]:
    """One page of notices, newest first (keyset: ids below ``before``)."""
    query = select(Outbox).order_by(Outbox.id.desc()).limit(PAGE_SIZE)
    if state:
        query = query.where(Outbox.state == state)
    if before is not None:
        query = query.where(Outbox.id < before)
    with web.store.reading() as session:
        return list(session.scalars(query))


def outbox_counts(web: WebContext) -> dict[str, int]:
    with web.store.reading() as session:
        rows = session.execute(select(Outbox.state, func.count()).group_by(Outbox.state))
        return {str(state): int(count) for state, count in rows}


@router.get("/outbox", response_class=HTMLResponse)
def outbox(
    request: Request,
    web: WebContext = Depends(web_context),  # noqa: B008
    state: str = "",
    before: int | None = None,
) -> HTMLResponse:
    if state not in {"", *(s.value for s in OutboxState)}:
        state = ""
    items = outbox_page(web, state, before)
    more = items[-1].id if len(items) == PAGE_SIZE else None
    return render(
        request,
        "admin_outbox.html",
        title="Outbox",
        note=note(request),
        items=items,
        state=state,
        states=[s.value for s in OutboxState],
        counts=outbox_counts(web),
        more=more,
    )


@router.post("/outbox/{item_id}/retry", dependencies=CHANGE)
def retry(
    request: Request,
    item_id: int,
    user: WebUser = Depends(current_admin),  # noqa: B008
    web: WebContext = Depends(web_context),  # noqa: B008
) -> Response:
    try:
        item = OutboxStore(web.store).requeue(item_id)
    except NotFound as exc:
        return refused(request, str(exc), 404)
    audit(request, user, "retry", "outbox", item_id, f"{item.channel} to {item.target}")
    return done(PATH, "requeued", state="dead")
