"""A cover page template chosen per fax: offered by name on /send and in the REST API,
stored on the job, rendered by the conversion worker (the preview too); an unknown name
is refused with the names on offer."""

from __future__ import annotations

import base64
import io
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import schemas
from tests.conversion import makers
from tests.web.conftest import Api, StartApi
from tests.web.send_helpers import SignIn, sign_in
from umfax.conversion import FaxPage, convert_documents, page_bitmap, tiff_to_pages
from umfax.conversion.cover_templates import (
    BUILT_IN,
    UnknownCoverTemplate,
    cover_templates,
    default_name,
    template_path,
)
from umfax.prepare import conversion_options

__all__ = ["sign_in"]

PDF = makers.pdf([makers.text_page(["Order 4711"])])
NUMBER = "+1 212 555 0110"


def _black(page: FaxPage) -> np.ndarray:  # type: ignore[type-arg]
    return np.unpackbits(page_bitmap(page), axis=1)[:, : page.width].astype(bool)


def _sent_pages(api: Api, job_id: int) -> list[FaxPage]:
    deadline = time.monotonic() + 60
    while not api.store.pages(job_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for stored in api.store.pages(job_id) for p in tiff_to_pages(stored.data)]


def _direct_cover(api: Api, job_id: int, template: Path | None) -> np.ndarray:  # type: ignore[type-arg]
    """The job's cover rendered straight by the converter with ``template`` named outright."""
    job = api.store.get_job(job_id)
    options = replace(conversion_options(job, api.config), cover_template=template)
    return _black(convert_documents([("order.pdf", PDF)], options)[0])


def test_templates_on_offer_and_unknown_names(tmp_path: Path) -> None:
    assert {"default", "memo"} <= set(cover_templates())
    assert template_path("") is None and template_path("default") is None
    assert template_path("memo") == BUILT_IN / "memo.json"
    more = tmp_path / "more"
    more.mkdir()
    shutil.copy(BUILT_IN / "memo.json", more / "letterhead.json")
    own = tmp_path / "acme.json"
    shutil.copy(BUILT_IN / "default.json", own)
    offered = cover_templates(own, more)
    assert list(offered) == sorted(offered) and {"acme", "default", "letterhead", "memo"} <= set(offered)
    assert default_name(own) == "acme" and template_path("", own, more) == own
    assert template_path("letterhead", own, more) == more / "letterhead.json"
    with pytest.raises(UnknownCoverTemplate, match=r"no cover page template 'nope'; choose one of .*memo"):
        template_path("nope", own, more)


def test_preview_and_sent_job_render_the_chosen_template(start_api: StartApi, sign_in: SignIn) -> None:
    api = start_api(extra={"fax": {"cover": True, "header": False}})
    ann = sign_in(api, "ann")
    form = ann.get("/send").text
    assert re.search(r'<option value="default" selected>default \(default\)</option>', form)
    assert '<option value="memo">memo</option>' in form
    answer = ann.post(
        "/send",
        {"action": "preview", "resolution": "fine", "numbers": NUMBER, "cover": "on",
         "cover_template": "memo", "subject": "Order"},
        files=[("file", ("order.pdf", PDF, "application/pdf"))],
    )
    assert answer.status_code == 303, answer.text
    path = answer.headers["location"]
    assert "yes (memo): Order" in ann.get(path).text
    shown = ~np.asarray(Image.open(io.BytesIO(ann.get(f"{path}/page/1.png").content)))
    sent = ann.post(path)
    assert sent.status_code == 303
    job_id = int(sent.headers["location"].rsplit("/", 1)[1])
    assert api.store.get_job(job_id).cover_template == "memo"
    cover = _black(_sent_pages(api, job_id)[0])
    memo = _direct_cover(api, job_id, BUILT_IN / "memo.json")
    default = _direct_cover(api, job_id, None)
    assert np.array_equal(cover, memo)  # the worker rendered the memo template
    assert (cover != default).mean() > 0.005  # which is not the default's cover
    # the preview is the same cover but for its date (the minute it was made)
    assert shown.shape == memo.shape and (shown != memo).mean() < 0.002
    refused = ann.post(
        "/send",
        {"action": "preview", "numbers": NUMBER, "cover": "on", "cover_template": "nope"},
        files=[("file", ("order.pdf", PDF, "application/pdf"))],
    )
    assert refused.status_code == 422 and "no cover page template &#39;nope&#39;" in refused.text


def test_the_api_accepts_and_refuses_template_names(start_api: StartApi, tmp_path: Path) -> None:
    more = tmp_path / "templates"
    more.mkdir()
    shutil.copy(BUILT_IN / "memo.json", more / "letterhead.json")
    api = start_api(extra={"fax": {"cover": True, "header": False, "cover_templates": str(more)}})
    body = {
        "to": NUMBER,
        "cover_template": "letterhead",
        "documents": [{"filename": "order.pdf", "content_base64": base64.b64encode(PDF).decode()}],
    }
    schemas.validate("fax_submission", body)
    offered = api.get("/api/v1/cover-templates")
    assert offered.status_code == 200
    schemas.validate("cover_templates", offered.json())
    assert [(t["name"], t["default"]) for t in offered.json()["templates"]] == [
        ("default", True), ("letterhead", False), ("memo", False)
    ]
    assert offered.json()["templates"][0]["title"] == "umfax default cover page"
    accepted = api.post("/api/v1/faxes", json=body)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]
    assert api.store.get_job(job_id).cover_template == "letterhead"
    assert np.array_equal(
        _black(_sent_pages(api, job_id)[0]), _direct_cover(api, job_id, more / "letterhead.json")
    )
    by_form = api.send(cover_template="memo")
    assert by_form.status_code == 202 and api.store.get_job(by_form.json()["id"]).cover_template == "memo"
    for refused in (api.post("/api/v1/faxes", json=body | {"cover_template": "nope"}),
                    api.send(cover_template="../default")):
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "unknown_cover_template"
        assert "cover_template: there is no cover page template" in error["message"]
        assert "default, letterhead, memo" in error["message"]
    assert len(api.store.list_jobs()) == 2
