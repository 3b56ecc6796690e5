"""The Twilio Fax compatible endpoints, driven as a Twilio Fax integration drove them:
form POSTs with HTTP Basic (account SID, key as auth token), Twilio-shaped answers, and a
status callback that twilio's own RequestValidator accepts under that key."""

from __future__ import annotations

import http.server
import threading
import time
import urllib.parse
from collections.abc import Iterator

import pytest
import requests
from twilio.request_validator import RequestValidator

import schemas
from connectors.webhook import TwilioFaxCallback
from tests.api.conftest import Api, StartApi
from umfax.notifications.dispatch import Dispatcher
from umfax.notifications.relay import EventRelay
from umfax.sealing import Sealer

ACCOUNT = "AC" + "f" * 32


@pytest.fixture
def callbacks() -> Iterator[tuple[str, list[tuple[dict[str, str], str]]]]:
    got: list[tuple[dict[str, str], str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            got.append((dict(urllib.parse.parse_qsl(body)), self.headers.get("X-Twilio-Signature", "")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fax-status", got
    server.shutdown()


def twilio_session(api: Api, user: str = "ann") -> requests.Session:
    session = requests.Session()
    session.auth = (ACCOUNT, api.keys[user])  # as twilio clients send account SID and auth token
    return session


def test_send_fetch_list_cancel_and_signed_callback(
    start_api: StartApi, document_server: str, callbacks: tuple[str, list[tuple[dict[str, str], str]]]
) -> None:
    api = start_api(allow_private_urls=True)
    callback_url, got = callbacks
    relay = EventRelay(api.store, api.config)
    relay.step()
    twilio = twilio_session(api)
    created = twilio.post(
        f"{api.url}/v1/Faxes",
        data={
            "To": "+12125550110",
            "From": "+12125550100",
            "MediaUrl": f"{document_server}/doc.txt",
            "Quality": "standard",
            "StatusCallback": callback_url,
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text
    fax = created.json()
    schemas.validate("twilio_fax", fax)
    assert fax["account_sid"] == ACCOUNT and fax["quality"] == "standard" and fax["to"] == "+12125550110"
    assert fax["status"] in ("queued", "processing") and fax["from"] == "+12125550100"
    fetched = twilio.get(f"{api.url}/v1/Faxes/{fax['sid']}", timeout=10)
    assert fetched.status_code == 200 and fetched.json()["sid"] == fax["sid"]
    listed = twilio.get(f"{api.url}/v1/Faxes", timeout=10).json()
    assert [f["sid"] for f in listed["faxes"]] == [fax["sid"]] and listed["meta"]["key"] == "faxes"
    deadline = time.monotonic() + 30  # converted first: a fax being converted is cancelled after
    while twilio.get(f"{api.url}/v1/Faxes/{fax['sid']}", timeout=10).json()["status"] != "queued":
        assert time.monotonic() < deadline, "the fax was not converted"
        time.sleep(0.05)
    cancelled = twilio.post(f"{api.url}/v1/Faxes/{fax['sid']}", data={"Status": "canceled"}, timeout=10)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "canceled"
    # the fax is done: its status callback goes out through the outbox
    relay.step()
    dispatcher = Dispatcher(api.store, api.config, "test/outbox")
    dispatcher.register("twilio_fax", TwilioFaxCallback(Sealer(api.config)).deliver)
    assert dispatcher.run_once() == 1
    [(params, signature)] = got
    assert params["FaxSid"] == fax["sid"] and params["FaxStatus"] == "canceled"
    assert params["AccountSid"] == ACCOUNT and params["To"] == "+12125550110"
    assert RequestValidator(api.keys["ann"]).validate(callback_url, params, signature)
    assert not RequestValidator(api.keys["bob"]).validate(callback_url, params, signature)
    assert api.keys["ann"] not in str(api.store.get_job(int(fax["sid"][2:], 16)).notify)  # kept sealed


def test_errors_are_twilio_shaped_enough(start_api: StartApi) -> None:
    api = start_api()
    twilio = twilio_session(api)
    no_auth = requests.post(f"{api.url}/v1/Faxes", data={"To": "+12125550110"}, timeout=10)
    assert no_auth.status_code == 401
    missing = twilio.post(f"{api.url}/v1/Faxes", data={"To": "+12125550110"}, timeout=10)
    assert missing.status_code == 400 and "MediaUrl" in missing.json()["error"]["message"]
    private = twilio.post(
        f"{api.url}/v1/Faxes", data={"To": "+12125550110", "MediaUrl": "http://127.0.0.1:9/x.pdf"}, timeout=10
    )
    assert private.status_code == 422 and "private" in private.json()["error"]["message"]
    assert twilio.get(f"{api.url}/v1/Faxes/FX{'0' * 31}9", timeout=10).status_code == 404
    other = twilio_session(api, "bob").get(f"{api.url}/v1/Faxes/FX{'0' * 32}", timeout=10)
    assert other.status_code == 404
