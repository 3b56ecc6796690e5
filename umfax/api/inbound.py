"""/api/v1/inbound: received faxes and voice messages (an admin sees all; a user those
routed or assigned to them, as in the console's inbox)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import ColumnElement, select, true

from umfax.api import resources
from umfax.api.auth import Caller
from umfax.api.context import ApiContext
from umfax.api.errors import ApiError
from umfax.api.faxes import authorized, base_url
from umfax.store.console_inbox import Viewer, visible
from umfax.store.models import Inbound

router = APIRouter(prefix="/api/v1/inbound", tags=["inbound"])


def _seen_by(caller: Caller) -> ColumnElement[bool]:
    """Which received items ``caller`` may read: the console's rule (umfax.store.console_inbox
    .visible: routed or assigned to them, not deleted from their inbox), checked in SQL;
    an admin reads everything."""
    if caller.admin:
        return true()
    return visible(Viewer(caller.user_id if caller.user_id is not None else -1, caller.user.name, False))


def _visible(context: ApiContext, caller: Caller, fax_id: int) -> Inbound:
    with context.store.reading() as session:
        fax = session.scalars(select(Inbound).where(Inbound.id == fax_id, _seen_by(caller))).first()
    if fax is None:
        raise ApiError(404, f"there is no received fax {fax_id}")
    return fax


@router.get("", summary="Received faxes, newest first")
def list_inbound(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: int | None = None,
) -> dict[str, Any]:
    context, caller = authorized(request, "inbound:read")
    with context.store.reading() as session:
        query = select(Inbound).order_by(Inbound.id.desc())
        if before is not None:
            query = query.where(Inbound.id < before)
        query = query.where(_seen_by(caller))
        rows = list(session.scalars(query.limit(limit + 1)))
    base = base_url(request)
    page = rows[:limit]
    next_link = f"{base}/api/v1/inbound?limit={limit}&before={page[-1].id}" if len(rows) > limit else None
    seconds = context.store.inbound_seconds(fax.id for fax in page if fax.kind == "voice")
    return {
        "faxes": [resources.inbound(fax, base, seconds.get(fax.id)) for fax in page],
        "next": next_link,
    }


@router.get("/{fax_id}", summary="A received fax or voice message")
def get_inbound(fax_id: int, request: Request) -> dict[str, Any]:
    context, caller = authorized(request, "inbound:read")
    fax = _visible(context, caller, fax_id)
    seconds = context.store.inbound_seconds([fax.id]).get(fax.id) if fax.kind == "voice" else None
    return resources.inbound(fax, base_url(request), seconds)


@router.get(
    "/{fax_id}/audio",
    summary="A voice message as WAV (16-bit, 8 kHz, mono)",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}}},
)
def inbound_audio(fax_id: int, request: Request) -> Response:
    context, caller = authorized(request, "inbound:read")
    fax = _visible(context, caller, fax_id)
    audio = context.store.inbound_audio(fax.id)
    if audio is None:
        raise ApiError(409, f"received item {fax.id} has no voice message", code="no_audio")
    return Response(
        audio.wav,
        media_type="audio/wav",
        headers={"Content-Disposition": f'attachment; filename="voice-{fax.id}.wav"'},
    )


def _pages(context: ApiContext, fax: Inbound) -> list[Any]:
    from umfax.conversion import tiff_to_pages

    pages = [p for page in context.store.inbound_pages(fax.id) for p in tiff_to_pages(page.data)]
    if not pages:
        raise ApiError(409, f"received fax {fax.id} has no pages", code="no_pages")
    return pages


@router.get(
    "/{fax_id}/pdf",
    summary="A received fax as PDF",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def inbound_pdf(fax_id: int, request: Request) -> Response:
    context, caller = authorized(request, "inbound:read")
    fax = _visible(context, caller, fax_id)
    return resources.pages_file(_pages(context, fax), "pdf", f"received-{fax.id}", f"Received fax {fax.id}")


@router.get(
    "/{fax_id}/tiff",
    summary="A received fax as TIFF",
    response_class=Response,
    responses={200: {"content": {"image/tiff": {}}}},
)
def inbound_tiff(fax_id: int, request: Request) -> Response:
    context, caller = authorized(request, "inbound:read")
    fax = _visible(context, caller, fax_id)
    return resources.pages_file(_pages(context, fax), "tiff", f"received-{fax.id}", f"Received fax {fax.id}")
