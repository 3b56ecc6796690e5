"""umfax/composition.py: every type the configuration can declare has a connector."""

from __future__ import annotations

import typing

from umfax import composition
from umfax.config import ConnectorConfig, UserConfig, parse_config
from umfax.notifications.dispatch import NOTICES
from umfax.notifications.relay import CHANNELS
from umfax.store import Store


def test_every_connector_type_has_a_factory() -> None:
    union = typing.get_args(ConnectorConfig)[0]
    types = {typing.get_args(member.model_fields["type"].annotation)[0] for member in typing.get_args(union)}
    assert set(composition.INTAKE_CONNECTORS) == types


def test_every_mailbox_delivery_has_a_factory() -> None:
    deliveries = set(typing.get_args(UserConfig.model_fields["delivery"].annotation))
    assert set(composition.MAILBOX_DELIVERIES) == deliveries - {"smtp", "folder", "none"}


def test_every_relay_channel_is_wired_and_loaded() -> None:
    assert set(composition.NOTICE_CHANNELS) == set(CHANNELS) == set(NOTICES)


def test_the_dispatcher_gets_only_what_is_configured(store: Store) -> None:
    config = parse_config({"mail": {"smtp_host": "127.0.0.1"}})
    built = composition.dispatcher(config, store, "test/outbox")
    assert built.smtp is not None and built.folder is not None
    assert built.mailboxes == {"imap": None, "exchange": None, "graph": None}
