"""The mail side of ``umfax serve``: connectors taking faxes in by mail, and the
dispatcher delivering reports and received faxes.

Nothing here knows a connector class: :mod:`umfax.composition` builds the dispatcher
with its destinations and says how to open the connector each ``[[connectors]]`` entry
names; this module runs them (threads, start, stop, health).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from umfax.config import Config, ConnectorConfig
from umfax.mail.intake import MailIntake
from umfax.mail.ports import IntakeConnector
from umfax.notifications.dispatch import Dispatcher
from umfax.notifications.relay import EventRelay
from umfax.store import Store

logger = logging.getLogger(__name__)

#: Makes the (not yet started) connector for one ``[[connectors]]`` entry, feeding ``intake``.
OpenIntake = Callable[[ConnectorConfig, MailIntake], IntakeConnector]


class MailServices:
    def __init__(self, config: Config, store: Store, dispatcher: Dispatcher, open_intake: OpenIntake) -> None:
        self.config = config
        self.store = store
        self.stop_event = threading.Event()
        self.connectors: list[IntakeConnector] = []
        self.dispatcher = dispatcher
        self._open_intake = open_intake
        self._dispatch_thread = threading.Thread(
            target=self.dispatcher.run, args=(self.stop_event,), name="outbox", daemon=True
        )
        self._relay_thread: threading.Thread | None = None
        if EventRelay.wanted(config):
            relay = EventRelay(store, config)
            self._relay_thread = threading.Thread(
                target=relay.run, args=(self.stop_event, self.dispatcher.wake), name="webhooks", daemon=True
            )

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
            running = self._open_intake(connector, intake)
            running.start()
            self.connectors.append(running)
            logger.info("connector started", extra={"connector": connector.label})

    def wake(self) -> None:
        self.dispatcher.wake()

    def stop_intake(self, timeout: float = 15.0) -> None:
        """Connectors stop taking mail in, all at once: each may wait up to a second for
        a blocked read (IDLE, a poll) before it is unblocked, and one after another they
        would add those seconds up.  Calling it again is harmless: a connector's stop()
        returns at once when it is stopped already."""
        stoppers = [
            threading.Thread(target=_stop_connector, args=(c,), name=f"stop:{c.label}", daemon=True)
            for c in self.connectors
        ]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join(timeout)

    def stop(self) -> None:
        """Connectors first (no new faxes), then the dispatcher, which has delivered
        what the last calls received by the time :class:`~umfax.service.Server` calls this."""
        self.stop_intake()
        self.stop_event.set()
        self.dispatcher.wake()
        if self._dispatch_thread.is_alive():
            self._dispatch_thread.join(timeout=10)

    def health(self) -> dict[str, Any]:
        return {c.label: c.health().as_dict() for c in self.connectors}


def _stop_connector(connector: IntakeConnector) -> None:
    try:
        connector.stop()
    except Exception:  # one connector failing to stop must not keep the others up
        logger.exception("connector did not stop cleanly", extra={"connector": connector.label})
