"""``/admin/keys``: every API key with its owner, scopes and last use; create one for a
user (the key is shown once, on the answer to the form, never stored), revoke one."""

from __future__ import annotations

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from umfax.errors import NotFound
from umfax.store.api_keys import SCOPES, ApiKeyStore, InvalidScope
from umfax.store.console_routing import ConsoleRouteStore
from umfax.web.audit import audit
from umfax.web.context import WebContext, web_context
from umfax.web.deps import current_admin
from umfax.web.identity import WebUser
from umfax.web.pages.admin_common import CHANGE, admin_router, done, note, refused
from umfax.web.render import render

router = admin_router()
PATH = "/admin/keys"


def _page(request: Request, web: WebContext, *, created: str = "", status: int = 200) -> HTMLResponse:
    response = render(
        request,
        "admin_keys.html",
        status=status,
        title="API keys",
        note=note(request),
        keys=ApiKeyStore(web.store).list(),
        users=ConsoleRouteStore(web.store).user_names(),
        scopes=SCOPES,
        created=created,
    )
    response.headers["Cache-Control"] = "no-store"  # the new key must not stay in a cache
    return response


@router.get("/keys", response_class=HTMLResponse)
def keys(request: Request, web: WebContext = Depends(web_context)) -> HTMLResponse:  # noqa: B008
    return _page(request, web)


@router.post("/keys", dependencies=CHANGE, response_class=HTMLResponse)
def create(
    request: Request,
    owner: str = Form(),
    label: str = Form(""),
    scopes: list[str] = Form(default_factory=list),  # noqa: B008
    user: WebUser = Depends(current_admin),  # noqa: B008
    web: WebContext = Depends(web_context),  # noqa: B008
) -> Response:
    if owner not in ConsoleRouteStore(web.store).user_names():
        return refused(request, f"there is no user named {owner!r}", 400)
    if not scopes:
        return refused(request, "choose at least one scope", 400)
    try:
        key_id, key = ApiKeyStore(web.store).create(owner, scopes, label=label.strip()[:200])
    except InvalidScope as exc:
        return refused(request, str(exc), 400)
    audit(request, user, "change", "api_key", key_id, f"created for {owner}: {' '.join(sorted(scopes))}")
    return _page(request, web, created=key)


@router.post("/keys/{key_id}/revoke", dependencies=CHANGE)
def revoke(
    request: Request,
    key_id: int,
    user: WebUser = Depends(current_admin),  # noqa: B008
    web: WebContext = Depends(web_context),  # noqa: B008
) -> Response:
    try:
        row = ApiKeyStore(web.store).revoke(key_id)
    except NotFound as exc:
        return refused(request, str(exc), 404)
    web.api.forget_key(key_id)
    audit(request, user, "change", "api_key", key_id, f"revoked (owner {row.user_name})")
    return done(PATH, "revoked")
