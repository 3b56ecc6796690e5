"""/send: the preview shows every page exactly as the conversion worker makes it (1-bit, at
the chosen resolution), a file that cannot be faxed says why and queues nothing, and Send
queues one job per recipient; another person's preview is 404."""

from __future__ import annotations

import io
import re
import shutil
import time

import numpy as np
import pytest
import requests
from PIL import Image

from tests.conversion import makers
from tests.web.conftest import Api, StartApi
from tests.web.send_helpers import Browser, SignIn, sign_in
from umfax.conversion import page_bitmap, tiff_to_pages
from umfax.store.audit import AuditLog
from umfax.store.contacts import ContactIn, ContactStore

__all__ = ["sign_in"]

PDF = makers.pdf([makers.text_page(["Quarterly figures", "page one"]), makers.text_page(["page two"])])


def _preview(browser: Browser, files: list[tuple[str, bytes]], **fields: object) -> str:
    """Post the form for a preview; the preview's path."""
    answer = browser.post(
        "/send",
        {"action": "preview", "resolution": "fine", **fields},
        files=[("file", (name, data, "application/octet-stream")) for name, data in files],
    )
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    assert location.startswith("/send/preview/")
    return location


def _png_rows(data: bytes) -> np.ndarray:  # type: ignore[type-arg]
    image = Image.open(io.BytesIO(data))
    assert image.mode == "1"
    return np.asarray(image)


def test_preview_is_every_page_as_the_worker_sends_it(start_api: StartApi, sign_in: SignIn) -> None:
    api: Api = start_api(extra={"fax": {"cover": False, "header": False}})
    ann = sign_in(api, "ann")
    path = _preview(ann, [("figures.pdf", PDF)], numbers="+1 212 555 0110", resolution="standard")
    page = ann.get(path)
    assert page.status_code == 200 and "2 pages at standard resolution" in page.text
    images = [ann.get(f"{path}/page/{n}.png") for n in (1, 2)]
    assert all(i.status_code == 200 and i.headers["content-type"] == "image/png" for i in images)
    assert ann.get(f"{path}/page/3.png").status_code == 404
    shown = [_png_rows(i.content) for i in images]

    sent = ann.post(path)
    assert sent.status_code == 303 and re.fullmatch(r"/faxes/\d+", sent.headers["location"])
    job_id = int(sent.headers["location"].rsplit("/", 1)[1])
    deadline = time.monotonic() + 60
    while not api.store.pages(job_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    pages = [p for stored in api.store.pages(job_id) for p in tiff_to_pages(stored.data)]
    assert len(pages) == 2 and all(p.resolution == "standard" for p in pages)
    for picture, fax_page in zip(shown, pages, strict=True):
        coded = np.unpackbits(page_bitmap(fax_page), axis=1)[:, : fax_page.width].astype(bool)
        # each standard-resolution row is shown twice (paper proportions), pixel for pixel
        assert picture.shape == (2 * fax_page.length, 1728)
        assert np.array_equal(~picture[::2], coded) and np.array_equal(~picture[1::2], coded)
    assert ann.get(path).status_code == 404  # sent: the preview is gone


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_preview_of_a_docx_with_a_cover_page(api: Api, sign_in: SignIn) -> None:
    ann = sign_in(api, "ann")
    docx = makers.docx(["Dear supplier,", "please find our order attached."])
    path = _preview(ann, [("letter.docx", docx), ("order.pdf", PDF)], numbers="+1 212 555 0110", cover="on")
    page = ann.get(path)
    assert "4 pages at fine resolution" in page.text  # cover, the letter, two PDF pages
    cover = _png_rows(ann.get(f"{path}/page/1.png").content)
    letter = _png_rows(ann.get(f"{path}/page/2.png").content)
    assert cover.shape[1] == 1728 and (~letter).mean() > 0.0005  # black ink on the letter


def test_a_file_that_cannot_be_faxed_says_why_and_queues_nothing(api: Api, sign_in: SignIn) -> None:
    ann = sign_in(api, "ann")
    answer = ann.post(
        "/send",
        {"action": "send", "numbers": "+1 212 555 0110"},
        files=[
            ("file", ("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" * 50, "application/x-msdownload"))
        ],
    )
    assert answer.status_code == 422
    assert "tool.exe cannot be faxed" in answer.text and "Nothing was queued" in answer.text
    bad_number = ann.post(
        "/send", {"action": "preview", "numbers": "12ab"}, files=[("file", ("a.pdf", PDF, "application/pdf"))]
    )
    assert bad_number.status_code == 422 and "12ab" in bad_number.text
    nothing = ann.post("/send", {"action": "preview", "numbers": "+1 212 555 0110"})
    assert nothing.status_code == 422 and "choose at least one document" in nothing.text
    assert api.store.list_jobs() == []


def test_send_to_a_number_and_a_group_makes_one_job_each(api: Api, sign_in: SignIn) -> None:
    ann_id = api.store.find_user(email="ann@example.com").id  # type: ignore[union-attr]
    book = ContactStore(api.store)
    acme = book.add(ann_id, ContactIn("Acme Sales", "+12125550120", company="Acme"))
    group = book.create_group(ann_id, "Suppliers")
    book.add_members(ann_id, group, [acme])
    ann = sign_in(api, "ann")
    form = ann.get(f"/send?group={group}")
    assert f'name="group" value="{group}" id="group-{group}" checked' in form.text
    answer = ann.post(
        "/send",
        {"action": "send", "numbers": "+1 212 555 0110", "group": str(group), "priority": "high"},
        files=[("file", ("a.pdf", PDF, "application/pdf"))],
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/faxes"
    jobs = sorted(api.store.list_jobs(), key=lambda job: job.number)
    assert [(j.number, j.recipient_name, j.source, j.user_id, j.priority) for j in jobs] == [
        ("+12125550110", "", "web", ann_id, 10),
        ("+12125550120", "Acme Sales", "web", ann_id, 10),
    ]
    sends = [e for e in AuditLog(api.store).entries(object_kind="job") if e.action == "send"]
    assert sorted(e.object_id for e in sends) == sorted(j.id for j in jobs)


def test_another_person_cannot_reach_a_preview_and_mute_may_not_send(api: Api, sign_in: SignIn) -> None:
    ann, bob = sign_in(api, "ann"), sign_in(api, "bob")
    path = _preview(ann, [("a.pdf", PDF)], numbers="+1 212 555 0110")
    assert bob.get(path).status_code == 404
    assert bob.get(f"{path}/page/1.png").status_code == 404
    assert bob.post(path).status_code == 404
    assert bob.get(f"/send?draft={path.rsplit('/', 1)[1]}").status_code == 200  # an empty form
    assert api.store.list_jobs() == []
    assert ann.get(path).status_code == 200
    for anonymous in (path, f"{path}/page/1.png", "/send", "/contacts"):
        answer = requests.get(api.url + anonymous, allow_redirects=False, timeout=30)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin"), anonymous
    refused = sign_in(api, "mute").post(
        "/send", {"numbers": "+1 212 555 0110"}, files=[("file", ("a.pdf", PDF, "application/pdf"))]
    )
    assert refused.status_code == 422 and "may not send faxes" in refused.text
    no_token = ann.session.post(ann.url + "/send", data={"numbers": "1"}, allow_redirects=False, timeout=30)
    assert no_token.status_code == 403


def test_change_keeps_the_documents_of_the_preview(api: Api, sign_in: SignIn) -> None:
    ann = sign_in(api, "ann")
    first = _preview(ann, [("figures.pdf", PDF)], numbers="+1 212 555 0110", subject="Draft")
    token = first.rsplit("/", 1)[1]
    form = ann.get(f"/send?draft={token}")
    assert "figures.pdf" in form.text and 'value="Draft"' in form.text and "+1 212 555 0110" in form.text
    again = ann.post(
        "/send", {"action": "preview", "draft": token, "numbers": "+1 212 555 0111", "subject": "Final"}
    )
    assert again.status_code == 303
    second = again.headers["location"]
    assert second != first and ann.get(first).status_code == 404
    page = ann.get(second)
    assert "figures.pdf" in page.text and "+1 212-555-0111" in page.text and "2 pages" in page.text


def test_preview_in_the_isolated_converter(start_api: StartApi, sign_in: SignIn) -> None:
    """With [conversion] isolate (the default), previews convert in a child process too."""
    api = start_api(extra={"conversion": {"isolate": True}})
    ann = sign_in(api, "ann")
    path = _preview(ann, [("figures.pdf", PDF)], numbers="+1 212 555 0110")
    assert "2 pages at fine resolution" in ann.get(path).text
    refused = ann.post(
        "/send",
        {"numbers": "+1 212 555 0110"},
        files=[("file", ("x.bin", b"\x00\x01" * 99, "application/x"))],
    )
    assert refused.status_code == 422 and "x.bin cannot be faxed" in refused.text
