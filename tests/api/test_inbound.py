"""Received faxes over HTTP: a user sees those routed to them; an admin sees all."""

from __future__ import annotations

import requests

import schemas
from tests.api.conftest import Api
from umfax.conversion import tiff_to_pages
from umfax.conversion.pages import page_from_bitmap
from umfax.store import PageIn


def receive(api: Api, deliver_to: list[str], pages: int = 2) -> int:
    """A reception as the line worker records it."""
    import numpy as np

    fax = api.store.start_inbound("sim2", caller_number="+12125550100", called_number="+12125550101")
    for n in range(1, pages + 1):
        bitmap = np.zeros((200, 1728 // 8), dtype=np.uint8)
        bitmap[20 + n : 40 + n, 10:60] = 0xFF
        page = page_from_bitmap(bitmap, "mmr", 196.0)
        api.store.add_inbound_page(fax.id, n, PageIn(page.data, 1728, 200, 204.0, 196.0, "mmr"))
    api.store.finish_inbound(fax.id, result="ok", remote_id="ACME", deliver_to=deliver_to)
    return fax.id


def test_routed_faxes_only(api: Api) -> None:
    anns = receive(api, ["ann"])
    bobs = receive(api, ["bob"])
    page = api.get("/api/v1/inbound").json()
    schemas.validate("fax_list", page)
    assert [f["id"] for f in page["faxes"]] == [anns]
    schemas.validate("inbound", page["faxes"][0])
    assert [f["id"] for f in api.get("/api/v1/inbound", "root").json()["faxes"]] == [bobs, anns]
    assert api.get(f"/api/v1/inbound/{bobs}").status_code == 404
    assert api.get(f"/api/v1/inbound/{anns}").json()["remote_id"] == "ACME"


def test_download_a_received_fax(api: Api) -> None:
    fax = receive(api, ["ann"], pages=3)
    pdf = api.get(f"/api/v1/inbound/{fax}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    tiff = api.get(f"/api/v1/inbound/{fax}/tiff")
    assert tiff.status_code == 200 and len(tiff_to_pages(tiff.content)) == 3
    assert requests.get(f"{api.url}/api/v1/inbound/{fax}/pdf", timeout=10).status_code == 401
