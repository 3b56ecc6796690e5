"""The admin pages, against the real API server, signed in through the real form: an
administrator sees and changes, anyone else gets 403 on every page and every change;
changes need the CSRF token and are in the audit log."""

from __future__ import annotations

import re
import time

import requests
from sqlalchemy import select

from tests.web.conftest import Api
from tests.web.signin import csrf_token, signed_in
from umfax.store.api_keys import ApiKeyStore
from umfax.store.models import Outbox, utcnow

PAGES = (
    "/admin",
    "/admin/lines",
    "/admin/lines/table",
    "/admin/queue",
    "/admin/routing",
    "/admin/routing?caller=%2B16465550100",
    "/admin/keys",
    "/admin/outbox",
    "/admin/audit",
    "/admin/usage",
    "/admin/usage.csv",
)
CHANGES = (
    "/admin/queue/1/hold",
    "/admin/queue/1/release",
    "/admin/queue/1/priority",
    "/admin/queue/1/cancel",
    "/admin/routing/routes",
    "/admin/routing/routes/1",
    "/admin/routing/routes/1/delete",
    "/admin/routing/routes/1/move",
    "/admin/routing/junk",
    "/admin/routing/junk/1/delete",
    "/admin/keys",
    "/admin/keys/1/revoke",
    "/admin/outbox/1/retry",
)


def post(session: requests.Session, api: Api, path: str, **data: str | list[str]) -> requests.Response:
    token = csrf_token(session, api, "/admin")
    return session.post(api.url + path, data={"csrf_token": token, **data}, allow_redirects=False, timeout=30)


def test_every_admin_page_and_change_is_for_administrators_only(api: Api) -> None:
    root = signed_in(api, "root")
    ann = signed_in(api, "ann")
    ann_token = csrf_token(ann, api, "/")
    for path in PAGES:
        assert root.get(api.url + path, timeout=30).status_code == 200, path
        assert ann.get(api.url + path, timeout=30).status_code == 403, path
        anonymous = requests.get(api.url + path, allow_redirects=False, timeout=30)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin"), path
    for path in CHANGES:
        answer = ann.post(api.url + path, data={"csrf_token": ann_token}, allow_redirects=False, timeout=30)
        assert answer.status_code == 403, path
    refused = root.post(
        api.url + "/admin/routing/junk", data={"field": "caller", "pattern": "+1999*"}, timeout=30
    )
    assert refused.status_code == 403  # no CSRF token
    assert "+1999*" not in root.get(api.url + "/admin/routing", timeout=30).text


def wait_for_state(api: Api, job_id: int, state: str) -> None:
    for _ in range(300):
        if api.store.get_job(job_id).state == state:
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never became {state}")


def test_the_queue_holds_releases_reprioritises_and_cancels(api: Api) -> None:
    root = signed_in(api, "root")
    job_id = int(api.send().json()["id"])
    wait_for_state(api, job_id, "queued")
    assert post(root, api, f"/admin/queue/{job_id}/hold").headers["location"] == "/admin/queue?done=held"
    page = root.get(api.url + "/admin/queue?done=held", timeout=30).text
    assert "no line will send it" in page and re.search(r">held</strong>", page)
    assert api.store.get_job(job_id).status == "held by root@example.com"
    assert post(root, api, f"/admin/queue/{job_id}/hold").status_code == 303  # held again: still held
    assert post(root, api, f"/admin/queue/{job_id}/release").status_code == 303
    assert api.store.get_job(job_id).status == "waiting for a line"
    assert post(root, api, f"/admin/queue/{job_id}/release").status_code == 409  # not held
    assert post(root, api, f"/admin/queue/{job_id}/priority", priority="7").status_code == 303
    assert api.store.get_job(job_id).priority == 7
    assert post(root, api, f"/admin/queue/{job_id}/priority", priority="700").status_code == 409
    assert post(root, api, f"/admin/queue/{job_id}/cancel").status_code == 303
    assert api.store.get_job(job_id).state == "cancelled"
    assert post(root, api, "/admin/queue/99999/hold").status_code == 404
    audit = root.get(api.url + f"/admin/audit?kind=job&object_id={job_id}", timeout=30).text
    assert (
        audit.count("<td>change</td>") == 4
    )  # hold twice, release, priority: refusals are not and audit.count("<td>cancel</td>") == 1


def test_routes_and_junk_are_edited_and_the_dry_run_follows_them(api: Api) -> None:
    root = signed_in(api, "root")

    def where(**facts: str) -> str:
        page = root.get(api.url + "/admin/routing", params=facts, timeout=30).text
        answer = page[page.index('class="answer"') :]
        return answer[: answer.index("</div>")]

    assert "nobody" in where(caller="+16465550100", csi="ACME")
    assert post(root, api, "/admin/routing/routes", users="bob, ann", csi="ACME*").status_code == 303
    [route] = re.findall(r'action="/admin/routing/routes/(\d+)"', root.get(api.url + "/admin/routing").text)
    answer = where(caller="+16465550100", csi="ACME")
    assert "bob, ann" in answer and f"console route {route}" in answer
    assert post(root, api, f"/admin/routing/routes/{route}", users="ann", csi="ACME*").status_code == 303
    assert "Goes to:</strong> ann." in where(csi="ACME")
    assert post(root, api, "/admin/routing/routes", users="nobody").status_code == 400
    assert post(root, api, "/admin/routing/junk", field="csi", pattern="ACME*").status_code == 303
    assert "Quarantined" in where(csi="ACME")
    assert post(root, api, "/admin/routing/junk", field="caller", pattern="+1646*").status_code == 303
    assert "Not answered" in where(caller="+16465550100")
    assert post(root, api, f"/admin/routing/routes/{route}/delete").status_code == 303
    changes = root.get(api.url + "/admin/audit?user=root&kind=route", timeout=30).text
    assert "added: bob, ann" in changes and "edited: ann" in changes and "<td>delete</td>" in changes


def test_an_api_key_is_shown_once_works_and_is_revoked(api: Api) -> None:
    root = signed_in(api, "root")
    created = post(root, api, "/admin/keys", owner="bob", label="scanner", scopes=["fax:read"])
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    [key] = re.findall(r'id="new-key" readonly value="(umf_[^"]+)"', created.text)
    assert requests.get(api.url + "/api/v1/faxes", headers={"Authorization": f"Bearer {key}"}, timeout=30).ok
    listing = root.get(api.url + "/admin/keys", timeout=30).text
    assert key not in listing and "scanner" in listing and key.split("_")[1] in listing
    key_id = max(k.id for k in ApiKeyStore(api.store).list())
    assert post(root, api, f"/admin/keys/{key_id}/revoke").status_code == 303
    revoked = requests.get(api.url + "/api/v1/faxes", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert revoked.status_code == 401
    assert post(root, api, "/admin/keys", owner="nobody", scopes=["fax:read"]).status_code == 400


def test_a_dead_letter_is_listed_and_delivered_again(api: Api) -> None:
    root = signed_in(api, "root")
    with api.store.writing() as session:
        item = Outbox(
            origin="job:1:failed",
            channel="webhook",
            target="https://hooks.example.com/x",
            state="dead",
            tries=8,
            last_error="connection refused",
            next_at=utcnow(),
        )
        session.add(item)
        session.flush()
        item_id = item.id
    page = root.get(api.url + "/admin/outbox?state=dead", timeout=30).text
    assert "connection refused" in page and "dead letters (1)" in page
    assert post(root, api, f"/admin/outbox/{item_id}/retry").status_code == 303
    with api.store.reading() as session:
        assert session.scalar(select(Outbox.state).where(Outbox.id == item_id)) == "pending"


def test_lines_usage_and_csv(api: Api) -> None:
    root = signed_in(api, "root")
    api.store.set_line_state(
        "modem1",
        node="n",
        port="sim:1",
        number="+12125550100",
        state="sending",
        detail="dialling +12125550110",
        job_id=42,
    )
    table = root.get(api.url + "/admin/lines/table", timeout=30)
    assert table.headers["cache-control"] == "no-store" and "<html" not in table.text
    assert "job 42" in table.text and "sending" in table.text
    page = root.get(api.url + "/admin/lines", timeout=30).text
    assert 'data-refresh-url="/admin/lines/table"' in page and 'href="/admin/lines">Reload' in page
    usage = root.get(api.url + "/admin/usage", timeout=30).text
    assert usage.count('<svg xmlns="http://www.w3.org/2000/svg"') == 3 and "style=" not in usage
    csv = root.get(api.url + "/admin/usage.csv", timeout=30)
    assert csv.headers["content-type"].startswith("text/csv")
    assert re.fullmatch(
        r'attachment; filename="umfax-usage-\d{4}-\d\d-\d\d\.csv"', csv.headers["content-disposition"]
    )
    assert csv.text.startswith("month,user,pages_sent,calls_sent,pages_received,faxes_received")
