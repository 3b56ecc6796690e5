"""Webhooks: events from the log, through the outbox, signed, at least once with stable ids."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

import schemas
from connectors.webhook import WebhookSender, sign, verify_signature
from tests.notifications.receiver import Receiver, webhook_receiver
from tests.notifications.voice_samples import tone_wav
from umfax.config import Config, parse_config
from umfax.notifications import dispatch
from umfax.notifications.dispatch import Dispatcher
from umfax.notifications.relay import EventRelay
from umfax.store import AudioIn, DocumentIn, PageIn, Store
from umfax.store.outbox import OutboxStore
from umfax.submit import FaxRequest, submit_fax

SECRET = "s3cret-for-tests"
SUB_SECRET = "subscription-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver(SECRET) as r:
        yield r


def config_for(*subscriptions: dict[str, object]) -> Config:
    return parse_config(
        {
            "webhooks": {
                "signing_secret_env": "UMFAX_TEST_WEBHOOK_SECRET",
                "subscriptions": list(subscriptions),
            },
        }
    )


def secrets(reference: str) -> str:
    return SUB_SECRET if reference.startswith("subscription:") else SECRET


def dispatcher_for(store: Store, config: Config) -> Dispatcher:
    d = Dispatcher(store, config, "test/outbox")
    d.register("webhook", WebhookSender(secrets, timeout=5).deliver)
    return d


def fax(store: Store, config: Config, callback: str | None) -> int:
    notify = {"callback_url": callback} if callback else {}
    job = submit_fax(
        store,
        config,
        FaxRequest("+12125550110", [DocumentIn("a.txt", b"hi", "text/plain")], source="api", notify=notify),
    )
    return job.id


def test_a_faxs_events_reach_its_callback_signed_in_order(store: Store, receiver: Receiver) -> None:
    config = config_for()
    relay = EventRelay(store, config)
    relay.step()  # start from now
    job = fax(store, config, receiver.url)
    store.cancel(job)
    assert relay.step() == 2
    assert relay.step() == 0  # read again (overlap window): nothing new
    assert dispatcher_for(store, config).run_once() == 2
    events = receiver.events()
    assert [e["type"] for e in events] == ["fax.accepted", "fax.cancelled"]
    assert all(d.valid for d in receiver.deliveries)
    for event in events:
        schemas.validate("webhook_event", event)
        assert event["data"]["fax"]["id"] == job
    ids = [d.headers["Umfax-Event-Id"] for d in receiver.deliveries]
    assert ids == [e["id"] for e in events] and len(set(ids)) == 2


def test_a_redelivery_carries_the_same_event_id_and_body(store: Store, receiver: Receiver) -> None:
    config = config_for()
    relay = EventRelay(store, config)
    relay.step()
    fax(store, config, receiver.url)
    relay.step()
    outbox = OutboxStore(store)
    dispatcher_for(store, config).run_once()
    [item] = outbox.items(state="done")
    outbox.requeue(item.id)  # as after a crash between the POST and recording it
    dispatcher_for(store, config).run_once()
    first, second = receiver.deliveries
    assert first.headers["Umfax-Event-Id"] == second.headers["Umfax-Event-Id"]
    assert first.body == second.body and second.valid


def test_a_restarted_relay_neither_skips_nor_repeats(store: Store, receiver: Receiver) -> None:
    config = config_for()
    EventRelay(store, config).step()
    job = fax(store, config, receiver.url)
    EventRelay(store, config).step()
    store.cancel(job)  # happens while "the server is down"
    restarted = EventRelay(store, config)
    assert restarted.step() == 1  # both read again; only the second is new
    assert [i.payload["event"]["type"] for i in OutboxStore(store).items()] == [
        "fax.accepted",
        "fax.cancelled",
    ]


def test_failing_receiver_is_retried_then_dead_lettered(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch, "RETRY_DELAYS", (0.0, 0.0))
    config = config_for()
    relay = EventRelay(store, config)
    relay.step()
    fax(store, config, receiver.url)
    relay.step()
    receiver.statuses = [500, 503, 502, 500]
    d = dispatcher_for(store, config)
    for _ in range(3):
        d.run_once()
    [dead] = OutboxStore(store).items(state="dead")
    assert dead.tries == 3 and "HTTP 502" in dead.last_error
    assert len(receiver.deliveries) == 3


def test_a_refusal_is_not_retried(store: Store, receiver: Receiver) -> None:
    config = config_for()
    relay = EventRelay(store, config)
    relay.step()
    fax(store, config, receiver.url)
    relay.step()
    receiver.statuses = [410]
    dispatcher_for(store, config).run_once()
    [dead] = OutboxStore(store).items(state="dead")
    assert "HTTP 410" in dead.last_error and len(receiver.deliveries) == 1


def test_subscriptions_get_the_events_they_asked_for(store: Store) -> None:
    with webhook_receiver(SUB_SECRET) as sub:
        config = config_for({"url": sub.url, "events": ["fax.cancelled"], "secret_env": "X"})
        relay = EventRelay(store, config)
        relay.step()
        job = fax(store, config, None)  # no callback of its own
        store.cancel(job)
        relay.step()
        dispatcher_for(store, config).run_once()
        assert [e["type"] for e in sub.events()] == ["fax.cancelled"]
        assert all(d.valid for d in sub.deliveries)


def test_a_voice_message_is_a_voice_received_event_with_its_audio_link(store: Store) -> None:
    with webhook_receiver(SUB_SECRET) as sub:
        config = parse_config(
            config_for({"url": sub.url, "events": ["voice.received"], "secret_env": "X"}).model_dump(
                exclude={"source"}
            )
            | {"api": {"public_url": "https://fax.example.com/"}}
        )
        relay = EventRelay(store, config)
        relay.step()
        call = store.start_inbound(
            "trunk-1", caller_number="+12125550199", caller_name="Bob", called_number="+12125550100"
        )
        store.finish_inbound(
            call.id, result="ok", kind="voice", audio=AudioIn(tone_wav(2.5), 2.5), deliver_to=[]
        )
        fax_call = store.start_inbound("trunk-1", caller_number="+12125550198")
        store.add_inbound_page(fax_call.id, 1, PageIn(b"II*\x00", 1728, 10, 204.0, 196.0, "mh"))
        store.finish_inbound(fax_call.id, result="ok")  # fax.received: not subscribed
        assert relay.step() == 1
        dispatcher_for(store, config).run_once()
        [event] = sub.events()
        schemas.validate("webhook_event", event)
        assert event["type"] == "voice.received" and event["data"]["inbound"]["id"] == call.id
        assert event["data"]["voice"] == {
            "inbound_id": call.id,
            "caller_number": "+12125550199",
            "caller_name": "Bob",
            "called_number": "+12125550100",
            "line": "trunk-1",
            "received_at": event["data"]["inbound"]["started_at"],
            "seconds": 2.5,
            "audio_path": f"/api/v1/inbound/{call.id}/audio",
            "audio_url": f"https://fax.example.com/api/v1/inbound/{call.id}/audio",
        }
        schemas.validate("voice_message", event["data"]["voice"])


def test_signatures_refuse_tampering_and_replay() -> None:
    body = b'{"id":"evt_1"}'
    now = int(time.time())
    headers = {"Umfax-Timestamp": str(now), "Umfax-Signature": sign(SECRET, now, body)}
    assert verify_signature(SECRET, headers, body)
    assert not verify_signature(SECRET, headers, body + b" ")
    assert not verify_signature("other", headers, body)
    assert not verify_signature(SECRET, headers, body, now=now + 301)  # replayed 5 min later
    assert not verify_signature(SECRET, {"Umfax-Timestamp": "soon"}, body)


def test_an_event_committed_after_later_ids_were_read_is_not_missed(store: Store, receiver: Receiver) -> None:
    """A transaction can take an event id, then commit after a later id was read: the
    relay checks the recent past for ids it has not seen."""
    config = config_for()
    relay = EventRelay(store, config)
    relay.step()
    fax(store, config, receiver.url)
    # As if the relay had already read past this event without seeing it (it was not
    # committed yet when a later one was read):
    relay.cursor = (relay.cursor or 0) + 1000
    relay._next_gap_check = relay._next_gap_check.min.replace(tzinfo=relay._next_gap_check.tzinfo)
    assert relay.step() == 1
    assert [i.payload["event"]["type"] for i in OutboxStore(store).items()] == ["fax.accepted"]
    assert relay.step() == 0  # seen now
