"""Pages from Jinja2 templates (autoescaped), with what every page needs."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from umfax import __version__


@cache
def environment() -> jinja2.Environment:
    root = resources.files("umfax.web") / "templates"
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context`` plus ``user`` (the signed-in WebUser or
    None), ``csrf_token`` (for forms: ``<input type=hidden name=csrf_token>``), ``path``
    and ``version``."""
    values = {
        "user": getattr(request.state, "web_user", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "path": request.url.path,
        "version": __version__,
        **context,
    }
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status)
