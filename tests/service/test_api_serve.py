"""The REST API of a running ``umfax serve``: a key made with the CLI, a fax submitted
over HTTP and sent on the simulated network, health that reflects the lines."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import requests

import schemas
from tests.notifications.receiver import webhook_receiver
from tests.servers.ports import free_port
from tests.servers.umfax_site import UmfaxSite


def test_fax_submitted_by_api_is_sent_with_signed_events(site: UmfaxSite, tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        _run(site, stack)


def _run(site: UmfaxSite, stack: contextlib.ExitStack) -> None:
    port = free_port()
    text = site.config.read_text().replace('listen = "127.0.0.1:0"', f'listen = "127.0.0.1:{port}"')
    site.config.write_text(
        text
        + '[webhooks]\nsigning_secret_env = "UMFAX_TEST_WEBHOOK_SECRET"\n'
        + '[[users]]\nname = "ann"\nemail = "ann@example.com"\ndelivery = "none"\n'
    )
    site.env["UMFAX_TEST_WEBHOOK_SECRET"] = "hook-secret"
    hooks = stack.enter_context(webhook_receiver("hook-secret"))
    site.start()
    created = json.loads(site.cli("apikey", "create", "ann@example.com", "--json").stdout)
    assert created["key"].startswith("umf_") and created["user"] == "ann"
    listed = site.cli("apikey", "list").stdout
    assert created["key"] not in listed and "ann" in listed
    url, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {created['key']}"}
    health = requests.get(f"{url}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    schemas.validate("health", health.json())
    assert set(health.json()["checks"]["lines"]) == {"sim1", "sim2"}
    lines = requests.get(f"{url}/api/v1/lines", headers=auth, timeout=10).json()["lines"]
    for line in lines:
        schemas.validate("line", line)
    assert [(line["name"], line["state"]) for line in lines] == [("sim1", "idle"), ("sim2", "idle")]
    response = requests.post(
        f"{url}/api/v1/faxes",
        headers=auth,
        data={"to": "+1 212 555 0110", "cover": "false", "callback_url": hooks.url},
        files={"file": ("hello.txt", b"Hello from the API\n", "text/plain")},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    job = response.json()["id"]
    deadline = time.monotonic() + 180
    fax: dict = {}
    while time.monotonic() < deadline:
        fax = requests.get(f"{url}/api/v1/faxes/{job}", headers=auth, timeout=10).json()
        if fax["state"] in ("sent", "failed"):
            break
        time.sleep(0.3)
    assert fax["state"] == "sent", fax
    schemas.validate("fax", fax)
    [attempt] = fax["attempts"]
    assert attempt["result"] == "ok" and attempt["pages_sent"] == 1
    metrics = requests.get(f"{url}/metrics", timeout=10).text
    assert "umfax_pages_sent_total 1" in metrics and 'umfax_jobs{state="sent"} 1' in metrics
    site.wait_for(lambda: "fax.sent" in [e["type"] for e in hooks.events()], 30, "the fax.sent webhook")
    assert all(d.valid for d in hooks.deliveries)  # every one signed
    assert [e["type"] for e in hooks.events()] == [
        "fax.accepted",
        "fax.queued",
        "fax.sending",
        "fax.page_sent",
        "fax.sent",
    ]
    for event in hooks.events():
        schemas.validate("webhook_event", event)
    site.cli("apikey", "revoke", str(created["id"]))
    site.wait_for(  # a revoked key stops working within 5 s (checked keys are cached that long)
        lambda: requests.get(f"{url}/api/v1/faxes", headers=auth, timeout=10).status_code == 401,
        10,
        "the revoked key to be refused",
    )
