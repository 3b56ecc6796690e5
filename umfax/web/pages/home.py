"""``/``: the start page after sign-in."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from umfax.web.deps import current_user
from umfax.web.identity import WebUser
from umfax.web.render import render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: WebUser = Depends(current_user)) -> HTMLResponse:  # noqa: B008
    return render(request, "home.html", title="umfax")
