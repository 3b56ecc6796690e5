"""Text messages with the real twilio Client against a fake Twilio on 127.0.0.1."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
import requests

from connectors.twilio_sms import TwilioSms
from tests.notifications.voice_samples import tone_wav
from tests.servers.ports import free_port
from tests.servers.twilio import UNDELIVERABLE, FakeTwilio, LocalTwilio, fake_twilio, twilio_signature
from umfax.api.server import ApiServer
from umfax.config import Config, parse_config
from umfax.lifecycle import FailureCause
from umfax.notifications import dispatch
from umfax.notifications.dispatch import Dispatcher
from umfax.notifications.relay import EventRelay
from umfax.store import AudioIn, DocumentIn, PageIn, Store
from umfax.store.outbox import OutboxStore
from umfax.submit import FaxRequest, submit_fax

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token-not-for-logs"
TOKEN_ENV = "UMFAX_TEST_TWILIO_TOKEN"
ANN, BOB = "+12125550177", "+12125550178"


@pytest.fixture
def twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTwilio]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with fake_twilio(SID, TOKEN) as fake:
        yield fake


def config_for(status_callback_url: str = "", api_port: int = 0) -> Config:
    return parse_config(
        {
            "twilio": {
                "account_sid": SID,
                "auth_token_env": TOKEN_ENV,
                "from_number": "+12125550199",
                "status_callback_url": status_callback_url,
            },
            "users": [
                {"name": "ann", "email": "ann@example.com", "mobile": ANN},
                {"name": "bob", "email": "bob@example.com", "mobile": BOB, "sms": "never"},
            ],
            "api": {"listen": f"127.0.0.1:{api_port}"},
        }
    )


def job_of(store: Store, config: Config, sender: str) -> int:
    request = FaxRequest("+12125550110", [DocumentIn("a.txt", b"hi", "text/plain")], sender=sender)
    return submit_fax(store, config, request).id


def deliver_all(store: Store, config: Config, fake: FakeTwilio) -> Dispatcher:
    d = Dispatcher(store, config, "test/outbox")
    d.register("sms", TwilioSms(config.twilio, http_client=LocalTwilio(fake.url)).deliver)  # type: ignore[arg-type]
    d.run_once()
    return d


def test_a_failed_fax_texts_its_sender(store: Store, twilio: FakeTwilio) -> None:
    config = config_for()
    relay = EventRelay(store, config)
    relay.step()
    anns = job_of(store, config, "ann@example.com")
    bobs = job_of(store, config, "bob@example.com")  # bob wants no texts
    store.fail_job(anns, None, FailureCause.BAD_DOCUMENT, "the PDF is encrypted")
    store.fail_job(bobs, None, FailureCause.BAD_DOCUMENT, "the PDF is encrypted")
    assert relay.step() == 1
    deliver_all(store, config, twilio)
    [message] = twilio.messages
    assert message["To"] == ANN and message["From"] == "+12125550199"
    assert f"fax {anns} to +1 212-555-0110 FAILED" in message["Body"] and len(message["Body"]) <= 160
    assert [i.state for i in OutboxStore(store).items()] == ["done"]


def test_a_received_fax_texts_its_users(store: Store, twilio: FakeTwilio) -> None:
    config = config_for()
    relay = EventRelay(store, config)
    relay.step()
    fax = store.start_inbound("sim2", caller_number="+12125550100")
    store.add_inbound_page(fax.id, 1, PageIn(b"II*\x00", 1728, 10, 204.0, 196.0, "mh"))
    store.finish_inbound(fax.id, result="ok", remote_id="ACME LEGAL", deliver_to=["ann", "bob"])
    assert relay.step() == 1  # bob: sms = "never"
    deliver_all(store, config, twilio)
    [message] = twilio.messages
    assert message["To"] == ANN and message["Body"].startswith("umfax: fax received from ACME LEGAL, 1 page")


def test_a_voice_message_texts_its_users(store: Store, twilio: FakeTwilio) -> None:
    config = config_for()
    relay = EventRelay(store, config)
    relay.step()
    call = store.start_inbound("trunk-1", caller_number="+12125550100")
    voice = AudioIn(tone_wav(23.4), 23.4)
    store.finish_inbound(call.id, result="ok", kind="voice", audio=voice, deliver_to=["ann", "bob"])
    assert relay.step() == 1  # bob: sms = "never"
    deliver_all(store, config, twilio)
    [message] = twilio.messages
    assert message["To"] == ANN
    assert message["Body"] == "umfax: voice message from +1 212-555-0100, 0:23. It is in your mailbox."


def test_twilio_errors_retry_or_give_up(
    store: Store, twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(dispatch, "RETRY_DELAYS", (0.0, 0.0, 0.0))
    config = config_for()
    relay = EventRelay(store, config)
    relay.step()
    store.fail_job(job_of(store, config, "ann@example.com"), None, FailureCause.BAD_DOCUMENT, "broken")
    relay.step()
    twilio.fail_next(503, 20503, "Service Unavailable")
    twilio.fail_next(429, 20429, "Too Many Requests")
    d = deliver_all(store, config, twilio)
    [item] = OutboxStore(store).items()
    assert item.state == "pending" and "HTTP 503" in item.last_error
    d.run_once()
    [item] = OutboxStore(store).items()
    assert item.state == "pending" and "HTTP 429" in item.last_error
    d.run_once()
    assert [i.state for i in OutboxStore(store).items()] == ["done"] and len(twilio.messages) == 1
    assert TOKEN not in caplog.text  # neither our logs nor the library's show the token


def test_an_invalid_number_is_not_retried(store: Store, twilio: FakeTwilio) -> None:
    config = config_for()
    sms = TwilioSms(config.twilio, http_client=LocalTwilio(twilio.url))  # type: ignore[arg-type]
    with pytest.raises(dispatch.Undeliverable, match="21211"):
        sms.send("+1", "hello")


def test_a_wrong_token_is_refused(twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "wrong")
    sms = TwilioSms(config_for().twilio, http_client=LocalTwilio(twilio.url))  # type: ignore[arg-type]
    with pytest.raises(dispatch.Undeliverable, match="HTTP 401"):
        sms.send(ANN, "hello")
    assert twilio.auth_failures == 1


def test_signed_delivery_receipts_are_recorded_and_forged_ones_refused(
    store_url: str, twilio: FakeTwilio
) -> None:
    port = free_port()
    receipt_url = f"http://127.0.0.1:{port}/twilio/sms-status"
    config = config_for(status_callback_url=receipt_url, api_port=port)
    from umfax.store.database import make_engine

    store = Store(make_engine(store_url))
    server = ApiServer(config, store)
    server.start()
    try:
        sms = TwilioSms(config.twilio, http_client=LocalTwilio(twilio.url))  # type: ignore[arg-type]
        sid = sms.send(UNDELIVERABLE, "hello")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(twilio.callbacks) < 2:
            time.sleep(0.05)
        assert [answer for _url, _params, answer in twilio.callbacks] == [204, 204]
        statuses = [e.data for e in store.events() if e.kind == "sms_status"]
        assert {(s["sid"], s["status"]) for s in statuses} == {(sid, "sent"), (sid, "undelivered")}
        assert any(s["error_code"] == "30003" for s in statuses)
        forged = {"MessageSid": sid, "MessageStatus": "delivered", "To": ANN}
        response = requests.post(
            receipt_url,
            data=forged,
            headers={"X-Twilio-Signature": twilio_signature("not-the-token", receipt_url, forged)},
            timeout=10,
        )
        assert response.status_code == 403
        assert len([e for e in store.events() if e.kind == "sms_status"]) == 2
    finally:
        server.stop()
        store.close()
