"""The mail side of ``umfax serve``: connectors taking faxes in by mail, and the
dispatcher delivering reports and received faxes."""

from __future__ import annotations

import logging
import threading
from typing import Any

from umfax.config import (
    Config,
    ExchangeConnectorConfig,
    GraphConnectorConfig,
    ImapConnectorConfig,
    SmtpConnectorConfig,
    secret,
)
from umfax.mail.intake import MailIntake
from umfax.notifications.dispatch import Dispatcher
from umfax.store import Store

logger = logging.getLogger(__name__)


class MailServices:
    def __init__(self, config: Config, store: Store, worker_prefix: str) -> None:
        self.config = config
        self.store = store
        self.stop_event = threading.Event()
        self.connectors: list[Any] = []
        smtp_out = None
        if config.mail.smtp_host:
            from connectors.mail_out import SmtpSender

            smtp_out = SmtpSender(config.mail, ca_file=config.mail.smtp_ca_file)
        imap_out = None
        if config.mail.imap is not None:
            from connectors.imap import ImapDelivery

            imap_out = ImapDelivery(config.mail.imap)
        exchange_out = None
        if config.mail.exchange is not None:
            from connectors.exchange import ExchangeDelivery

            exchange_out = ExchangeDelivery(config.mail.exchange)
        graph_out = None
        if config.mail.graph is not None:
            from connectors.graph import GraphDelivery

            graph_out = GraphDelivery(config.mail.graph)
        self.dispatcher = Dispatcher(
            store,
            config,
            f"{worker_prefix}outbox",
            smtp=smtp_out,
            imap=imap_out,
            exchange=exchange_out,
            graph=graph_out,
        )
        self._dispatch_thread = threading.Thread(
            target=self.dispatcher.run, args=(self.stop_event,), name="outbox", daemon=True
        )
        self._relay_thread: threading.Thread | None = None
        from umfax.notifications.relay import EventRelay

        if EventRelay.wanted(config):
            from connectors.webhook import WebhookSender

            sender = WebhookSender(self._webhook_secret, timeout=config.webhooks.timeout)
            self.dispatcher.register("webhook", sender.deliver)
            if config.twilio is not None:
                from connectors.twilio_sms import TwilioSms

                self.dispatcher.register("sms", TwilioSms(config.twilio).deliver)
            if config.api.enabled:
                from connectors.webhook import TwilioFaxCallback
                from umfax.sealing import Sealer

                callbacks = TwilioFaxCallback(store, Sealer(config), timeout=config.webhooks.timeout)
                self.dispatcher.register("twilio_fax", callbacks.deliver)
            relay = EventRelay(store, config)
            self._relay_thread = threading.Thread(
                target=relay.run, args=(self.stop_event, self.dispatcher.wake), name="webhooks", daemon=True
            )

    def _webhook_secret(self, reference: str) -> str:
        """The secret a webhook notice names: "callback", or "subscription:N"."""
        hooks = self.config.webhooks
        if reference.startswith("subscription:"):
            index = int(reference.split(":")[1])
            return secret(
                hooks.subscriptions[index].secret_env, f"webhooks.subscriptions[{index}].secret_env"
            )
        return secret(hooks.signing_secret_env, "webhooks.signing_secret_env")

    def start(self) -> None:
        self.store.sync_users(
            [
                (
                    u.name,
                    u.email.lower(),
                    u.display_name,
                    u.fax_numbers[0] if u.fax_numbers else None,
                    u.can_send,
                )
                for u in self.config.users
            ]
        )
        self._dispatch_thread.start()
        if self._relay_thread is not None:
            self._relay_thread.start()
        for connector in self.config.connectors:
            if not connector.enabled:
                continue
            intake = MailIntake(self.store, self.config, connector, connector.label)
            if isinstance(connector, ImapConnectorConfig):
                from connectors.imap import ImapIntake

                imap = ImapIntake(connector, intake.accept)
                imap.start()
                self.connectors.append(imap)
            elif isinstance(connector, SmtpConnectorConfig):
                from connectors.smtp import SmtpIntake

                smtp = SmtpIntake(
                    connector,
                    check_recipient=intake.check_recipient,
                    accept=intake.accept,
                    hostname=connector.hostname or self.config.server.node_name,
                )
                smtp.start()
                self.connectors.append(smtp)
            elif isinstance(connector, ExchangeConnectorConfig):
                from connectors.exchange import ExchangeIntake

                ews = ExchangeIntake(connector, intake.accept)
                ews.start()
                self.connectors.append(ews)
            elif isinstance(connector, GraphConnectorConfig):
                from connectors.graph import GraphIntake
                from umfax.store.connector_state import ConnectorStateStore

                positions = ConnectorStateStore(self.store, connector.label)
                graph = GraphIntake(connector, intake.accept, positions=positions)
                graph.start()
                self.connectors.append(graph)
            logger.info("connector started", extra={"connector": connector.label})

    def wake(self) -> None:
        self.dispatcher.wake()

    def stop(self) -> None:
        for connector in self.connectors:
            try:
                connector.stop()
            except Exception:  # one connector failing to stop must not keep the others up
                logger.exception("connector did not stop cleanly")
        self.stop_event.set()
        self.dispatcher.wake()
        if self._dispatch_thread.is_alive():
            self._dispatch_thread.join(timeout=10)

    def health(self) -> dict[str, Any]:
        return {
            getattr(c, "label", type(c).__name__): (c.health().as_dict() if hasattr(c, "health") else {})
            for c in self.connectors
        }
