"""``/admin``: the administrator's start page, with the state of the queue and the lines."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from umfax.states import IN_SERVICE, LineState
from umfax.web.context import WebContext, web_context
from umfax.web.pages.admin_common import admin_router
from umfax.web.render import render

router = admin_router()

SECTIONS = (
    ("/admin/lines", "Lines", "each line's state and current call, live, and today's use"),
    ("/admin/queue", "Queue", "faxes waiting or being sent: hold, release, priority, cancel"),
    ("/admin/users", "Users and roles", "who may sign in, and who is an administrator"),
    ("/admin/routing", "Routing", "where received faxes go, the junk list, and a dry run"),
    ("/admin/keys", "API keys", "keys for the REST API: create, revoke"),
    ("/admin/outbox", "Outbox", "notices being delivered, and dead letters to retry"),
    ("/admin/audit", "Audit log", "who signed in, viewed, downloaded, forwarded or changed what"),
    ("/admin/usage", "Usage", "pages per user and month (CSV), and charts"),
)


@router.get("", response_class=HTMLResponse)
def overview(request: Request, web: WebContext = Depends(web_context)) -> HTMLResponse:  # noqa: B008
    counts = web.store.count_jobs()
    waiting = sum(counts.get(state, 0) for state in ("pending", "converting", "queued"))
    lines = web.store.line_states()
    up = sum(1 for line in lines if LineState(line.state) in IN_SERVICE)
    return render(
        request,
        "admin.html",
        title="Administration",
        sections=SECTIONS,
        waiting=waiting,
        sending=counts.get("sending", 0),
        lines_up=up,
        lines_total=len(lines),
    )
