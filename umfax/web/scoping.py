"""What the sent-fax and inbox pages share: the viewer, 404s, page-image responses."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from umfax.store.console_inbox import Viewer
from umfax.web.identity import WebUser
from umfax.web.images import CACHE, CodedPage, Variant, etag_for


def viewer_of(user: WebUser) -> Viewer:
    return Viewer(user_id=user.id, user_name=user.name, admin=user.admin)


def not_found(request: Request, what: str = "fax") -> HTMLResponse:
    """The one answer for "not there" and "not yours": never reveal that a record exists."""
    from umfax.web.render import render

    return render(request, "error.html", status=404, title="Not found", message=f"There is no such {what}.")


IMAGE_HEADERS = {"Cache-Control": "private, max-age=86400"}


def image_response(request: Request, table: str, page: CodedPage | None, variant: Variant) -> Response:
    """A PNG page image (``page`` already fetched through a scoped query; None: 404)."""
    if page is None:
        return not_found(request, "page")
    etag = etag_for(table, page.id, variant)
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag, **IMAGE_HEADERS})
    image = CACHE.get(table, page, variant)
    return Response(image.png, media_type="image/png", headers={"ETag": image.etag, **IMAGE_HEADERS})


def variant_of(size: str) -> Variant:
    return "thumb" if size == "thumb" else "full"
