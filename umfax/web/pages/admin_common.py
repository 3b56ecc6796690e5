"""What the admin pages share: a router that admits administrators only, the answer to a
refused change, and the short notes shown after a change (fixed texts picked by code, so
a link cannot make the page say anything else)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from umfax.web.deps import csrf_checked, current_admin
from umfax.web.render import render

#: Every admin route: administrators only.  Changes add ``CHANGE``.
ADMIN = [Depends(current_admin)]
CHANGE = [Depends(csrf_checked)]

NOTES = {
    "held": "The job is held: no line will send it until it is released.",
    "released": "The job is released and waits for a line.",
    "priority": "The job's priority is changed.",
    "cancelled": "The job is cancelled (a job in a call stops at the end of the current page).",
    "route_added": "The route is added; it applies to the next fax received.",
    "route_saved": "The route is saved; it applies to the next fax received.",
    "route_deleted": "The route is deleted.",
    "route_moved": "The route is moved.",
    "junk_added": "The junk entry is added.",
    "junk_deleted": "The junk entry is deleted.",
    "revoked": "The key is revoked.",
    "requeued": "The notice will be delivered again now.",
}


def admin_router() -> APIRouter:
    return APIRouter(prefix="/admin", dependencies=ADMIN)


def note(request: Request) -> str:
    return NOTES.get(request.query_params.get("done", ""), "")


def done(path: str, code: str, **query: Any) -> RedirectResponse:
    """After a change: back to ``path`` with the note ``code`` (303: the browser GETs it)."""
    return RedirectResponse(f"{path}?{urlencode({'done': code, **query})}", status_code=303)


def refused(request: Request, message: str, status: int = 409) -> HTMLResponse:
    """A change that cannot be made, said on a page (400/404/409)."""
    title = "Not found" if status == 404 else "Not done"
    return render(request, "error.html", status=status, title=title, message=message)
