"""The REST API takes the raster formats print clients send (issue 19): PWG Raster and
Apple raster (URF), by MIME type or by the sync word alone, and a broken one fails the
fax with a message that names the page."""

from __future__ import annotations

import base64
import time

import numpy as np

from tests.api.conftest import Api
from tests.api.test_faxes import wait_for_state
from tests.conversion import raster_makers as rm


def _page(text_rows: int = 40) -> rm.Page:
    gray = np.full((1100, 850), 255, dtype=np.uint8)  # Letter at 100 dpi
    gray[100:100 + text_rows, 100:700] = 0
    return rm.gray_page(gray, dpi=100)


def test_pwg_raster_and_urf_are_accepted_and_converted(api: Api) -> None:
    pwg = rm.pwg([_page(), _page(20)])
    response = api.post("/api/v1/faxes", data={"to": "+1 212 555 0110"},
                        files={"file": ("printed.pwg", pwg, "image/pwg-raster")})
    assert response.status_code == 202, response.text
    assert wait_for_state(api, response.json()["id"], {"queued"})["page_count"] == 2
    urf = rm.urf([_page()])
    body = {"to": "+12125550110", "documents": [
        {"filename": "from-iphone", "content_base64": base64.b64encode(urf).decode()}]}
    response = api.post("/api/v1/faxes", json=body)  # no type given: sniffed by UNIRAST
    assert response.status_code == 202, response.text
    assert wait_for_state(api, response.json()["id"], {"queued"})["page_count"] == 1


def test_a_truncated_raster_fails_the_fax_in_words(api: Api) -> None:
    cut = rm.pwg([_page(), _page()])[:-3]
    response = api.post("/api/v1/faxes", data={"to": "+1 212 555 0110"},
                        files={"file": ("printed.pwg", cut, "image/pwg-raster")})
    assert response.status_code == 202, response.text
    job = response.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and api.store.get_job(job).state != "failed":
        time.sleep(0.1)
    fax = api.get(f"/api/v1/faxes/{job}").json()
    assert fax["state"] == "failed" and fax["last_cause"] == "bad_document", fax
    assert "page 2 of printed.pwg (PWG raster) is cut short" in fax["status"], fax
