"""How the API shows the store's records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from fastapi import Response

from umfax.conversion import FaxPage, pages_to_pdf, pages_to_tiff
from umfax.records import ATTEMPT_FIELDS, INBOUND_FIELDS, JOB_FIELDS, public
from umfax.store import Store
from umfax.store.models import Inbound, Job


def fax(job: Job, base: str, store: Store | None = None) -> dict[str, Any]:
    """A job as the API shows it; with ``store``, also its documents and calls."""
    out = public(job, JOB_FIELDS) | {
        "callback_url": (job.notify or {}).get("callback_url"),
        "links": {
            "self": f"{base}/api/v1/faxes/{job.id}",
            "pdf": f"{base}/api/v1/faxes/{job.id}/pdf",
            "tiff": f"{base}/api/v1/faxes/{job.id}/tiff",
        },
    }
    if store is not None:
        out["documents"] = [
            {"filename": d.filename, "size": d.size, "sha256": d.sha256} for d in store.documents(job.id)
        ]
        out["attempts"] = [public(a, ATTEMPT_FIELDS) for a in store.attempts(job.id)]
    return out


def inbound(fax: Inbound, base: str, seconds: float | None = None) -> dict[str, Any]:
    """A received fax or voice message; ``seconds``: a voice message's length (None: none)."""
    links = {"self": f"{base}/api/v1/inbound/{fax.id}"}
    if fax.kind == "voice":
        if seconds is not None:
            links["audio"] = f"{base}/api/v1/inbound/{fax.id}/audio"
    else:
        links |= {
            "pdf": f"{base}/api/v1/inbound/{fax.id}/pdf",
            "tiff": f"{base}/api/v1/inbound/{fax.id}/tiff",
        }
    return public(fax, INBOUND_FIELDS) | {"seconds": seconds, "links": links}


def pages_file(pages: Sequence[FaxPage], kind: Literal["pdf", "tiff"], stem: str, title: str) -> Response:
    """Fax pages as a download: a PDF, or a multi-page TIFF Class F."""
    if kind == "pdf":
        data, media, suffix = pages_to_pdf(pages, title=title), "application/pdf", "pdf"
    else:
        data, media, suffix = pages_to_tiff(pages), "image/tiff", "tif"
    return Response(
        data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{stem}.{suffix}"'}
    )
