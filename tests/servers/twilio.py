"""A fake Twilio REST API on 127.0.0.1, enough for the real ``twilio`` Client to send
text messages: POST /2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP Basic auth
checked, Twilio-shaped JSON answers and error bodies, and status callbacks POSTed to the
message's StatusCallback signed with X-Twilio-Signature as Twilio computes it
(base64 HMAC-SHA1, keyed by the auth token, of the URL followed by each POST parameter's
name and value in name order).  The real client reaches it through :class:`LocalTwilio`,
an ``http_client`` that rewrites https://api.twilio.com to this server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse

#: A number Twilio's carriers cannot reach: the message is accepted, then "undelivered".
UNDELIVERABLE = "+15005550009"


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    data = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    url: str = ""
    messages: list[dict[str, str]] = field(default_factory=list)
    failures: list[tuple[int, int, str]] = field(default_factory=list)  # (HTTP status, code, message)
    auth_failures: int = 0
    callbacks: list[tuple[str, dict[str, str], int]] = field(default_factory=list)  # url, params, answer

    def fail_next(self, status: int, code: int = 20500, message: str = "Internal Server Error") -> None:
        self.failures.append((status, code, message))


class LocalTwilio(TwilioHttpClient):
    """The twilio library's own HTTP client, sending to the fake instead of api.twilio.com."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        local = re.sub(r"^https://[a-z.]*twilio\.com", self.base, url)
        return super().request(method, local, *args, **kwargs)


@contextmanager
def fake_twilio(account_sid: str, auth_token: str) -> Iterator[FakeTwilio]:
    fake = FakeTwilio(account_sid, auth_token)
    lock = threading.Lock()

    def callback(url: str, params: dict[str, str]) -> None:
        time.sleep(0.05)
        headers = {"X-Twilio-Signature": twilio_signature(auth_token, url, params)}
        try:
            answer = requests.post(url, data=params, headers=headers, timeout=10).status_code
        except requests.RequestException:
            answer = 0
        with lock:
            fake.callbacks.append((url, params, answer))

    class Handler(http.server.BaseHTTPRequestHandler):
        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, code: int, message: str) -> None:
            self._json(
                status,
                {
                    "code": code,
                    "message": message,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status,
                },
            )

        def do_POST(self) -> None:
            expected = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                with lock:
                    fake.auth_failures += 1
                self._error(401, 20003, "Authenticate")
                return
            match = re.fullmatch(r"/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json", self.path)
            if match is None or match.group(1) != account_sid:
                self._error(404, 20404, "The requested resource was not found")
                return
            length = int(self.headers.get("Content-Length", "0"))
            params = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            with lock:
                failure = fake.failures.pop(0) if fake.failures else None
            if failure is not None:
                self._error(*failure)
                return
            to = params.get("To", "")
            if not re.fullmatch(r"\+[1-9][0-9]{6,14}", to):
                self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
                return
            if not params.get("Body"):
                self._error(400, 21602, "Message body is required.")
                return
            if not params.get("From") and not params.get("MessagingServiceSid"):
                self._error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required.")
                return
            sid = "SM" + secrets.token_hex(16)
            with lock:
                fake.messages.append(params | {"Sid": sid})
            self._json(
                201,
                {
                    "sid": sid,
                    "account_sid": account_sid,
                    "to": to,
                    "from": params.get("From"),
                    "messaging_service_sid": params.get("MessagingServiceSid"),
                    "body": params["Body"],
                    "status": "queued",
                    "num_segments": "1",
                    "direction": "outbound-api",
                    "api_version": "2010-04-01",
                    "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
                    "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
                },
            )
            status_url = params.get("StatusCallback")
            if status_url:
                final = "undelivered" if to == UNDELIVERABLE else "delivered"
                for state in ("sent", final):
                    report = {"AccountSid": account_sid, "MessageSid": sid, "MessageStatus": state, "To": to}
                    if state == "undelivered":
                        report["ErrorCode"] = "30003"
                    threading.Thread(target=callback, args=(status_url, report), daemon=True).start()
                    time.sleep(0.01)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
