"""Submitting and managing faxes over HTTP, checked against the store and the schemas."""

from __future__ import annotations

import base64
import io
import threading
import time

import pypdf
import pytest
import requests

import schemas
from tests.api.conftest import Api, StartApi
from umfax.store import Store
from umfax.store.database import make_engine


def wait_for_state(api: Api, job_id: int, states: set[str], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fax = api.get(f"/api/v1/faxes/{job_id}").json()
        if fax["state"] in states:
            return fax
        time.sleep(0.1)
    raise AssertionError(f"fax {job_id} did not reach {states}")


def assert_error(response: requests.Response, status: int, phrase: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    schemas.validate("api_error", body)
    assert phrase in body["error"]["message"], body


# -- auth ------------------------------------------------------------------------------------


def test_no_key_unknown_key_and_revoked_key_are_refused(api: Api) -> None:
    response = requests.get(api.url + "/api/v1/faxes", timeout=10)
    assert_error(response, 401, "Authorization: Bearer")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bad = requests.get(api.url + "/api/v1/faxes", headers={"Authorization": "Bearer umf_0000_x"}, timeout=10)
    assert_error(bad, 401, "unknown or revoked")
    forged = api.keys["ann"][:-4] + "AAAA"  # right prefix, wrong secret
    response = requests.get(
        api.url + "/api/v1/faxes", headers={"Authorization": f"Bearer {forged}"}, timeout=10
    )
    assert_error(response, 401, "unknown or revoked")
    from umfax.store.api_keys import ApiKeyStore

    keys = ApiKeyStore(api.store)
    [ann_key] = [k for k in keys.list("ann")]
    keys.revoke(ann_key.id)
    assert_error(api.get("/api/v1/faxes"), 401, "unknown or revoked")


def test_keys_are_stored_as_digests(api: Api) -> None:
    from umfax.store.api_keys import ApiKeyStore

    secret = api.keys["ann"].rsplit("_", 1)[1]
    for row in ApiKeyStore(api.store).list():
        assert secret not in (row.digest, row.prefix) and len(row.digest) == 64


def test_scopes_limit_what_a_key_does(api: Api) -> None:
    from umfax.store.api_keys import ApiKeyStore

    api.keys["reader"] = ApiKeyStore(api.store).create("ann", ["fax:read"])[1]
    assert_error(api.send("reader"), 403, "fax:send")
    assert api.get("/api/v1/faxes", "reader").status_code == 200
    assert_error(api.get("/api/v1/lines", "reader"), 403, "lines:read")


def test_a_user_who_may_not_send_is_refused(api: Api) -> None:
    assert_error(api.send("mute"), 403, "may not send")


# -- submitting --------------------------------------------------------------------------------


def test_multipart_submission_is_committed_when_202_returns(api: Api, store_url: str) -> None:
    response = api.send(subject="Invoice", recipient_name="Jane Doe", priority="high")
    assert response.status_code == 202, response.text
    fax = response.json()
    schemas.validate("fax", fax)
    assert response.headers["Location"].endswith(f"/api/v1/faxes/{fax['id']}")
    assert fax["number"] == "+12125550110" and fax["recipient_name"] == "Jane Doe"
    assert fax["sender"] == "ann@example.com" and fax["source"] == "api" and fax["priority"] == 10
    other = Store(make_engine(store_url))  # a connection of its own: the job is committed
    try:
        job = other.get_job(fax["id"])
        assert job.subject == "Invoice" and [d.filename for d in other.documents(job.id)] == ["note.txt"]
    finally:
        other.close()


def test_json_submission_with_base64_and_cover_fields(api: Api) -> None:
    body = {
        "to": "(212) 555-0111",
        "recipient_name": "Bob Roe",
        "subject": "Order",
        "comments": "Two pages follow",
        "cover": True,
        "send_at": "2030-01-01T09:00:00+00:00",
        "callback_url": "https://crm.example.com/hooks/fax",
        "documents": [{"filename": "order.txt", "content_base64": base64.b64encode(b"Order 42").decode()}],
    }
    response = api.post("/api/v1/faxes", json=body)
    assert response.status_code == 202, response.text
    fax = response.json()
    schemas.validate("fax", fax)
    assert fax["not_before"].startswith("2030-01-01T09:00:00")
    assert fax["callback_url"] == "https://crm.example.com/hooks/fax"
    assert api.store.get_job(fax["id"]).cover is True


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ({"to": "+12125550110"}, "'documents' is a required property"),
        ({"to": "+12125550110", "documents": []}, "should be non-empty"),
        ({"to": "+12125550110", "documents": [{"content_base64": "@@@"}]}, "not valid base64"),
        ({"to": "+12125550110", "documents": [{"content_base64": "aGk="}], "colour": 1}, "colour"),
        ({"to": "not a number", "documents": [{"content_base64": "aGk="}]}, "number"),
        ({"to": "+44 20 7946 0000", "documents": [{"content_base64": "aGk="}]}, "international"),
        ({"to": "+1 900 555 0100", "documents": [{"content_base64": "aGk="}]}, "premium"),
        ({"to": "+12125550110", "documents": [{"content_base64": "aGk="}], "send_at": "tomorrow"}, "send_at"),
    ],
)
def test_bad_submissions_say_what_is_wrong(api: Api, body: dict, phrase: str) -> None:
    assert_error(api.post("/api/v1/faxes", json=body), 422, phrase)


def test_unsupported_body_and_missing_file(api: Api) -> None:
    response = api.post("/api/v1/faxes", data="to=1", headers={"Content-Type": "text/plain"})
    assert_error(response, 415, "multipart/form-data")
    response = api.post("/api/v1/faxes", files={"to": (None, "+12125550110")})
    assert_error(response, 422, "'file'")


def test_idempotency_key_returns_the_same_fax_and_refuses_a_different_one(api: Api) -> None:
    first = api.send(headers={"Idempotency-Key": "crm-42"}, text="Page one")
    again = api.send(headers={"Idempotency-Key": "crm-42"}, text="Page one")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert first.headers["Idempotent-Replayed"] == "false" and again.headers["Idempotent-Replayed"] == "true"
    changed = api.send(headers={"Idempotency-Key": "crm-42"}, text="Another page")
    assert_error(changed, 409, "different fax")
    bobs = api.send("bob", headers={"Idempotency-Key": "crm-42"}, text="Page one")  # keys are per user
    assert bobs.status_code == 202 and bobs.json()["id"] != first.json()["id"]
    assert len(api.store.list_jobs()) == 2


def test_concurrent_retries_of_one_submission_make_one_job(api: Api) -> None:
    results: list[int] = []

    def submit() -> None:
        response = api.send(headers={"Idempotency-Key": "burst"})
        assert response.status_code == 202, response.text
        results.append(response.json()["id"])

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and len(set(results)) == 1
    assert len(api.store.list_jobs()) == 1


# -- reading, lists, actions, downloads ----------------------------------------------------------


def test_users_see_their_own_faxes_and_admins_all(api: Api) -> None:
    ann = api.send("ann").json()["id"]
    bob = api.send("bob").json()["id"]
    assert api.get(f"/api/v1/faxes/{ann}").status_code == 200
    assert_error(api.get(f"/api/v1/faxes/{bob}"), 404, f"no fax {bob}")
    assert_error(api.post(f"/api/v1/faxes/{bob}/cancel"), 404, f"no fax {bob}")
    assert [f["id"] for f in api.get("/api/v1/faxes").json()["faxes"]] == [ann]
    assert [f["id"] for f in api.get("/api/v1/faxes", "root").json()["faxes"]] == [bob, ann]
    assert api.get(f"/api/v1/faxes/{bob}", "root").status_code == 200


def test_pagination_and_filters(api: Api) -> None:
    ids = [api.send(to=f"+1212555{110 + n:04d}").json()["id"] for n in range(5)]
    seen: list[int] = []
    url: str | None = "/api/v1/faxes?limit=2"
    while url:
        page = api.get(url.removeprefix(api.url)).json()
        schemas.validate("fax_list", page)
        assert len(page["faxes"]) <= 2
        seen += [f["id"] for f in page["faxes"]]
        url = page["next"]
    assert seen == sorted(ids, reverse=True)
    only = api.get("/api/v1/faxes", params={"to": "+1 212 555 0112"}).json()["faxes"]
    assert [f["id"] for f in only] == [ids[2]]
    assert_error(api.get("/api/v1/faxes", params={"state": "lost"}), 422, "state is one of")


def test_cancel_then_retry(start_api: StartApi) -> None:
    api = start_api(convert=False)  # a converter could claim the job before the cancel
    job = api.send(send_at="2030-01-01T00:00:00Z").json()["id"]
    cancelled = api.post(f"/api/v1/faxes/{job}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert_error(api.post(f"/api/v1/faxes/{job}/cancel"), 409, "already cancelled")
    retried = api.post(f"/api/v1/faxes/{job}/retry")
    assert retried.status_code == 200 and retried.json()["state"] == "pending"


def test_download_the_pages_as_pdf_and_tiff(api: Api) -> None:
    job = api.send(text="Page one\fPage two\n").json()["id"]
    fax = wait_for_state(api, job, {"queued"})
    assert fax["page_count"] == 2
    pdf = api.get(f"/api/v1/faxes/{job}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert len(pypdf.PdfReader(io.BytesIO(pdf.content)).pages) == 2
    tiff = api.get(f"/api/v1/faxes/{job}/tiff")
    from umfax.conversion import tiff_to_pages

    assert tiff.status_code == 200 and len(tiff_to_pages(tiff.content)) == 2


def test_download_before_conversion_says_so(start_api: StartApi) -> None:
    api = start_api(convert=False)
    job = api.send(send_at="2030-01-01T00:00:00Z").json()["id"]
    assert_error(api.get(f"/api/v1/faxes/{job}/pdf"), 409, "no pages yet")


# -- limits ----------------------------------------------------------------------------------


def test_request_size_limit(start_api: StartApi) -> None:
    api = start_api(max_request_bytes=4096)
    assert_error(api.send(text="x" * 10_000), 413, "larger than 4,096 bytes")
    chunked = api.post(
        "/api/v1/faxes",
        data=iter([b"x" * 3000, b"y" * 3000]),  # no Content-Length: counted as it arrives
        headers={"Content-Type": "application/json"},
    )
    assert_error(chunked, 413, "larger than")
    assert api.send(text="small").status_code == 202


def test_rate_limit_per_key(start_api: StartApi) -> None:
    api = start_api(rate_per_second=0.5, rate_burst=3)
    codes = [api.get("/api/v1/faxes").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = api.get("/api/v1/faxes")
    assert_error(limited, 429, "retry in")
    assert int(limited.headers["Retry-After"]) >= 1
    assert api.get("/api/v1/faxes", "bob").status_code == 200  # other keys are not affected


def test_document_urls_are_fetched_but_not_from_private_addresses(
    start_api: StartApi, document_server: str
) -> None:
    guarded = start_api()

    def by_url(url: str) -> requests.Response:
        return guarded.post("/api/v1/faxes", json={"to": "+12125550110", "documents": [{"url": url}]})

    for url in (f"{document_server}/doc.txt", "http://localhost:9/x", "http://10.0.0.1/x", "http://[::1]/x"):
        assert_error(by_url(url), 422, "private or local address")
    assert_error(by_url("file:///etc/passwd"), 422, "does not match '^https?://'")
    assert guarded.store.list_jobs() == []
    trusting = start_api(allow_private_urls=True)
    for path in ("/doc.txt", "/moved"):
        response = trusting.post(
            "/api/v1/faxes", json={"to": "+12125550110", "documents": [{"url": document_server + path}]}
        )
        assert response.status_code == 202, response.text
        [document] = trusting.store.documents(response.json()["id"])
        assert document.filename == "doc.txt"
    assert_error(
        trusting.post(
            "/api/v1/faxes", json={"to": "+12125550110", "documents": [{"url": f"{document_server}/gone"}]}
        ),
        422,
        "HTTP 404",
    )


# -- status ----------------------------------------------------------------------------------


def test_health_metrics_lines_and_openapi(api: Api) -> None:
    health = requests.get(api.url + "/healthz", timeout=10)
    assert health.status_code == 200
    schemas.validate("health", health.json())
    assert health.json()["checks"]["store"]["ok"] is True
    assert health.json()["checks"]["connectors"] == {"faxbox": {"connected": True}}
    api.send()
    metrics = requests.get(api.url + "/metrics", timeout=10).text
    assert "# TYPE umfax_jobs gauge" in metrics
    assert 'umfax_jobs{state="sent"} 0' in metrics
    depth = next(line for line in metrics.splitlines() if line.startswith("umfax_queue_depth "))
    assert depth == "umfax_queue_depth 1"
    lines = api.get("/api/v1/lines")
    assert lines.status_code == 200
    [sim1, sim2] = lines.json()["lines"]  # the default configuration's lines, no server reporting
    for line in (sim1, sim2):
        schemas.validate("line", line)
    assert sim1["name"] == "sim1" and sim1["state"] == "unknown"
    spec = requests.get(api.url + "/openapi.json", timeout=10).json()
    assert "/api/v1/faxes" in spec["paths"] and "/api/v1/inbound/{fax_id}/pdf" in spec["paths"]


def test_last_use_of_a_key_is_recorded(api: Api) -> None:
    from umfax.store.api_keys import ApiKeyStore

    assert api.get("/api/v1/faxes").status_code == 200
    [row] = ApiKeyStore(api.store).list("ann")
    assert row.last_used_at is not None


def test_a_callback_needs_a_signing_secret(start_api: StartApi) -> None:
    api = start_api(signing_secret_env="")  # a server without [webhooks]
    body = {
        "to": "+12125550110",
        "documents": [{"content_base64": "aGk="}],
        "callback_url": "https://x.example/h",
    }
    assert_error(api.post("/api/v1/faxes", json=body), 422, "signing_secret_env")
