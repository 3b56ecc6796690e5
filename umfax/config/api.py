"""[api], [webhooks] and [twilio]: the REST API and the notifications sent to other systems."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from umfax.config.section import Duration, _Section


class ApiConfig(_Section):
    """The REST API that ``umfax serve`` starts (keys: ``umfax apikey create EMAIL``)."""

    enabled: bool = True
    listen: str = "127.0.0.1:8025"  # host:port; a port of 0 picks a free one
    public_url: str = ""  # how clients reach the API (links in responses); empty: http://listen
    max_request_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)  # larger requests get 413
    max_documents: int = Field(default=20, ge=1, le=200)
    rate_per_second: float = Field(default=50.0, gt=0)  # per API key, sustained
    rate_burst: int = Field(default=200, ge=1)  # per API key, at once
    fetch_timeout: Duration = 30.0  # documents given by URL: time to fetch one
    allow_private_urls: bool = False  # documents by URL may come from private/loopback addresses
    sealing_key_env: str = ""  # env var with the key sealing secrets kept for later (see umfax/sealing.py)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"listen {value!r} is not host:port (e.g. 127.0.0.1:8025)")
        return value


WEBHOOK_EVENTS = (
    "fax.accepted",
    "fax.queued",
    "fax.sending",
    "fax.page_sent",
    "fax.retrying",
    "fax.sent",
    "fax.failed",
    "fax.cancelled",
    "fax.retried",
    "fax.received",
    "voice.received",
)


class WebhookSubscription(_Section):
    url: str = Field(pattern=r"^https?://")
    events: list[str] = []  # empty: every event; else from WEBHOOK_EVENTS
    secret_env: str  # environment variable holding this subscription's signing secret

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(WEBHOOK_EVENTS))
        if unknown:
            raise ValueError(f"unknown event {', '.join(unknown)}; events are {', '.join(WEBHOOK_EVENTS)}")
        return value


class WebhooksConfig(_Section):
    """Signed JSON events: to a fax's own callback_url (given with the fax) and to global
    subscriptions.  Signature: Umfax-Signature: v1=HMAC-SHA256(secret, "TIMESTAMP.BODY")."""

    signing_secret_env: str = ""  # the secret that signs per-fax callbacks; unset: callbacks refused
    subscriptions: list[WebhookSubscription] = []
    timeout: Duration = 10.0  # per delivery attempt


class TwilioConfig(_Section):
    """Text messages through Twilio's Messages API."""

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token_env: str  # environment variable holding the auth token
    from_number: str = ""  # E.164 sender number ...
    messaging_service_sid: str = ""  # ... or a messaging service (MG...)
    status_callback_url: str = ""  # public URL of /twilio/sms-status on the API; empty: no receipts

    @model_validator(mode="after")
    def _sender(self) -> TwilioConfig:
        if bool(self.from_number) == bool(self.messaging_service_sid):
            raise ValueError("set exactly one of from_number and messaging_service_sid")
        return self
