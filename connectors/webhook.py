"""Webhook delivery: one signed JSON POST per outbox notice.

Each request carries ``Umfax-Event-Id`` (stable across retries: deduplicate on it),
``Umfax-Timestamp`` (Unix seconds) and ``Umfax-Signature: v1=<hex>``, the HMAC-SHA256 of
``"<timestamp>.<body>"`` under the shared secret.  :func:`verify_signature` is what a
receiver does: recompute, compare in constant time, refuse stale timestamps (replay).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping

import requests
from twilio.request_validator import RequestValidator

from umfax.errors import ConnectorError, describe_error
from umfax.notifications.ports import TwilioFaxNotice, Undeliverable, WebhookNotice
from umfax.sealing import Sealer, SealError

logger = logging.getLogger(__name__)

TOLERANCE = 300  # seconds a receiver accepts between our timestamp and its clock
USER_AGENT = "umfax-webhooks/1"


class WebhookError(ConnectorError):
    """A delivery failed in a way that a retry may fix."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify_signature(
    secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None, tolerance: int = TOLERANCE
) -> bool:
    """True when ``body`` was signed with ``secret`` within ``tolerance`` seconds of ``now``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lowered.get("umfax-timestamp", ""))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    offered = [part.strip() for part in lowered.get("umfax-signature", "").split(",")]
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


class WebhookSender:
    """Delivers "webhook" notices; ``secrets`` resolves a notice's secret reference."""

    def __init__(self, secrets: Callable[[str], str], timeout: float = 10.0) -> None:
        self.secrets = secrets
        self.timeout = timeout
        self.session = requests.Session()

    def deliver(self, notice: WebhookNotice) -> None:
        event = notice.event
        body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
        try:
            secret = self.secrets(notice.secret_ref)
        except Exception as exc:
            raise Undeliverable(f"no signing secret for this webhook: {describe_error(exc)}") from exc
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Umfax-Event-Id": str(event["id"]),
            "Umfax-Event-Type": str(event["type"]),
            "Umfax-Timestamp": str(timestamp),
            "Umfax-Signature": sign(secret, timestamp, body),
        }
        try:
            response = self.session.post(
                notice.url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            raise WebhookError(f"POST {notice.url} failed: {describe_error(exc)}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        if 400 <= status < 500 and status not in (408, 409, 425, 429):
            raise Undeliverable(f"POST {notice.url} was refused with HTTP {status}; not retried")
        raise WebhookError(f"POST {notice.url} answered HTTP {status}; will retry")


class TwilioFaxCallback:
    """Delivers "twilio_fax" notices: Twilio Fax's StatusCallback, a form POST signed with
    X-Twilio-Signature under the API key the fax was sent with (kept sealed on the job)."""

    def __init__(self, sealer: Sealer, timeout: float = 10.0) -> None:
        self.sealer = sealer
        self.timeout = timeout
        self.session = requests.Session()

    def deliver(self, notice: TwilioFaxNotice) -> None:
        params = dict(notice.params)
        try:
            key = self.sealer.open(notice.sealed_key)
        except SealError as exc:
            raise Undeliverable(describe_error(exc)) from exc
        url = notice.url
        signature = RequestValidator(key).compute_signature(url, params)
        try:
            response = self.session.post(
                url,
                data=params,
                headers={"X-Twilio-Signature": signature, "User-Agent": USER_AGENT},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise WebhookError(f"POST {url} failed: {describe_error(exc)}") from exc
        if 200 <= response.status_code < 300:
            return
        if 400 <= response.status_code < 500 and response.status_code not in (408, 409, 425, 429):
            raise Undeliverable(f"POST {url} was refused with HTTP {response.status_code}; not retried")
        raise WebhookError(f"POST {url} answered HTTP {response.status_code}; will retry")
