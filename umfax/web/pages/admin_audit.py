"""``/admin/audit``: the audit log, newest first, filtered by user, action and object,
in pages (keyset: each page continues below the last id of the one before)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from umfax.store.audit import ACTIONS, AuditLog
from umfax.store.models import User
from umfax.web.context import WebContext, web_context
from umfax.web.pages.admin_common import admin_router
from umfax.web.render import render

router = admin_router()
PAGE_SIZE = 100


def user_ids(web: WebContext) -> dict[int, str]:
    with web.store.reading() as session:
        return {int(uid): str(name) for uid, name in session.execute(select(User.id, User.name))}


@router.get("/audit", response_class=HTMLResponse)
def audit_log(
    request: Request,
    web: WebContext = Depends(web_context),  # noqa: B008
    user: str = "",
    action: str = "",
    kind: str = "",
    object_id: str = "",
    before: int | None = None,
) -> HTMLResponse:
    names = user_ids(web)
    by_name = {name: uid for uid, name in names.items()}
    wanted_user = by_name.get(user.strip()) if user.strip() else None
    wanted_object = int(object_id) if object_id.strip().isdigit() else None
    unknown_user = bool(user.strip()) and wanted_user is None
    entries = (
        []
        if unknown_user
        else AuditLog(web.store).entries(
            before_id=before,
            user_id=wanted_user,
            action=action if action in ACTIONS else "",
            object_kind=kind.strip(),
            object_id=wanted_object,
            limit=PAGE_SIZE,
        )
    )
    filters = {"user": user, "action": action, "kind": kind, "object_id": object_id}
    more = None
    if len(entries) == PAGE_SIZE:
        more = "?" + urlencode({**{k: v for k, v in filters.items() if v}, "before": entries[-1].id})
    return render(
        request,
        "admin_audit.html",
        title="Audit log",
        entries=entries,
        names=names,
        actions=ACTIONS,
        filters=filters,
        unknown_user=unknown_user,
        more=more,
    )
