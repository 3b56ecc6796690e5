"""Text messages through Twilio's Messages API, with the twilio library's own Client.

``deliver`` sends one "sms" notice.  Twilio's answer decides what happens next: a
message accepted is done; 429 and 5xx (and network trouble) are retried with backoff;
other 4xx (an invalid or unreachable number, 21211/21614...) are final.  The auth token
comes from the environment and is never logged: errors are reported by Twilio's code and
message only.
"""

from __future__ import annotations

import logging
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from umfax.config import TwilioConfig, secret
from umfax.errors import ConnectorError
from umfax.notifications.ports import TextNotice, Undeliverable

logger = logging.getLogger(__name__)


class SmsError(ConnectorError):
    """Twilio could not take the message now; retried."""


class TwilioSms:
    def __init__(self, config: TwilioConfig, http_client: TwilioHttpClient | None = None) -> None:
        self.config = config
        self.client = Client(
            config.account_sid,
            secret(config.auth_token_env, "twilio.auth_token_env"),
            http_client=http_client,
        )

    def send(self, to: str, body: str) -> str:
        """Send ``body`` to ``to`` (E.164); the message SID."""
        options: dict[str, Any] = {"to": to, "body": body}
        if self.config.messaging_service_sid:
            options["messaging_service_sid"] = self.config.messaging_service_sid
        else:
            options["from_"] = self.config.from_number
        if self.config.status_callback_url:
            options["status_callback"] = self.config.status_callback_url
        try:
            message = self.client.messages.create(**options)
        except TwilioRestException as exc:
            reason = f"Twilio refused the text to {to}: HTTP {exc.status}, code {exc.code}: {exc.msg}"
            if exc.status == 429 or exc.status >= 500:
                raise SmsError(reason) from exc
            raise Undeliverable(reason) from exc
        except (TwilioException, OSError) as exc:
            raise SmsError(f"cannot reach Twilio: {type(exc).__name__}") from exc
        logger.info("text message sent", extra={"to": to, "sid": message.sid})
        return str(message.sid)

    def deliver(self, notice: TextNotice) -> None:
        self.send(notice.to, notice.body)
