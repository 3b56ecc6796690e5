"""Record in the audit log what the signed-in person did, from a console request."""

from __future__ import annotations

from fastapi import Request

from umfax.store.audit import Audited, AuditLog
from umfax.web.context import web_context
from umfax.web.identity import WebUser


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def audit(
    request: Request,
    user: WebUser | None,
    action: str,
    object_kind: str = "",
    object_id: int | None = None,
    detail: str = "",
) -> None:
    """E.g. ``audit(request, user, "download", "inbound", fax.id)``."""
    AuditLog(web_context(request).store).record(
        Audited(
            action=action,
            actor=user.email if user else "",
            user_id=user.id if user else None,
            object_kind=object_kind,
            object_id=object_id,
            detail=detail,
            address=client_address(request),
        )
    )
