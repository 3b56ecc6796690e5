"""/api/v1/inbound: received faxes and voice messages (an admin sees all; a user those
routed to them)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from umfax.api import resources
from umfax.api.auth import Caller
from umfax.api.context import ApiContext
from umfax.api.errors import ApiError
from umfax.api.faxes import authorized, base_url
from umfax.errors import NotFound
from umfax.store.models import Inbound, Outbox

router = APIRouter(prefix="/api/v1/inbound", tags=["inbound"])


def _routed_to(context: ApiContext, user_name: str) -> set[int]:
    """Received faxes routed to ``user_name`` (their delivery notices name the user)."""
    with context.store.reading() as session:
        origins = session.scalars(
            select(Outbox.origin).where(Outbox.channel == "inbound", Outbox.target == user_name)
        )
        return {int(origin.split(":")[1]) for origin in origins}


def _visible(context: ApiContext, caller: Caller, fax_id: int) -> Inbound:
    try:
        fax = context.store.get_inbound(fax_id)
    except NotFound as exc:
        raise ApiError(404, f"there is no received fax {fax_id}") from exc
    if not caller.admin and fax_id not in _routed_to(context, caller.user.name):
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
        if not caller.admin:
            query = query.where(Inbound.id.in_(_routed_to(context, caller.user.name) or {-1}))
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
