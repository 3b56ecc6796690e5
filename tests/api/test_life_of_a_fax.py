"""A fax submitted through the API with a callback URL: its events reach the callback in
order, each signed, and its failure reaches the sender's mobile by text message (the
real twilio Client against the fake Twilio)."""

from __future__ import annotations

import time

import pytest

import schemas
from connectors.twilio_sms import TwilioSms
from connectors.webhook import WebhookSender
from tests.api.conftest import USERS, StartApi
from tests.notifications.receiver import webhook_receiver
from tests.servers.twilio import LocalTwilio, fake_twilio
from umfax.notifications.dispatch import Dispatcher
from umfax.notifications.relay import EventRelay

SID = "AC" + "ab" * 16
MOBILE = "+12125550177"


def test_events_in_order_signed_and_a_text_on_failure(
    start_api: StartApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UMFAX_TEST_WEBHOOK_SECRET", "hook-secret")
    monkeypatch.setenv("UMFAX_TEST_TWILIO_TOKEN", "twilio-token")
    users = [dict(u, mobile=MOBILE) if u["name"] == "ann" else u for u in USERS]
    with webhook_receiver("hook-secret") as hooks, fake_twilio(SID, "twilio-token") as twilio:
        api = start_api(
            extra={
                "users": users,
                "twilio": {
                    "account_sid": SID,
                    "auth_token_env": "UMFAX_TEST_TWILIO_TOKEN",
                    "from_number": "+12125550199",
                },
            }
        )
        relay = EventRelay(api.store, api.config)
        relay.step()
        dispatcher = Dispatcher(api.store, api.config, "test/outbox")
        dispatcher.register("webhook", WebhookSender(lambda _ref: "hook-secret").deliver)
        dispatcher.register("sms", TwilioSms(api.config.twilio, http_client=LocalTwilio(twilio.url)).deliver)  # type: ignore[arg-type]
        broken = (
            b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
        )
        response = api.post(
            "/api/v1/faxes",
            data={"to": "+1 212 555 0110", "callback_url": hooks.url},
            files={"file": ("contract.pdf", broken, "application/pdf")},
        )
        assert response.status_code == 202, response.text
        job = response.json()["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and api.store.get_job(job).state != "failed":
            time.sleep(0.1)
        assert api.store.get_job(job).state == "failed"
        relay.step()
        while dispatcher.run_once():
            pass
    assert [e["type"] for e in hooks.events()] == ["fax.accepted", "fax.failed"]
    assert all(d.valid for d in hooks.deliveries) and len(hooks.deliveries) == 2
    for event in hooks.events():
        schemas.validate("webhook_event", event)
    failed = hooks.events()[1]
    assert failed["data"]["fax"]["id"] == job and failed["data"]["fax"]["last_cause"] == "bad_document"
    [text] = twilio.messages
    assert text["To"] == MOBILE and f"fax {job} to +1 212-555-0110 FAILED" in text["Body"]
