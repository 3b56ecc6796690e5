"""Where umfax meets its connectors: the one module of ``umfax`` that imports ``connectors``.

The core (intake, dispatcher, relay) defines the interfaces it needs and the plain
payloads it hands over (:mod:`umfax.mail.ports`, :mod:`umfax.notifications.ports`);
this module chooses, for what the configuration declares, the connector that implements
each, from three registries:

- :data:`INTAKE_CONNECTORS`: a ``[[connectors]]`` entry's ``type`` -> the connector
  taking its mail in;
- :data:`MAILBOX_DELIVERIES`: a user's ``delivery`` (configured by ``[mail.<type>]``)
  -> the connector putting messages into their mailbox;
- :data:`NOTICE_CHANNELS`: an outbox channel -> what registers its sender on the
  dispatcher when the configuration asks for it.

The fax printer (``[printer]``, :func:`printer`) is the IPP printer of ``connectors.ipp``
on the store's port (:class:`umfax.printer.faxes.StorePrinterPort`), served by the API.

Outgoing SMTP (``[mail] smtp_host``) and folder delivery need no registry: there is one
of each.  Connector modules are imported only when configured, so an unused one (and
its libraries) is never loaded.  To add a connector: write it in ``connectors/``
against the port it implements, and add its factory here.
"""

from __future__ import annotations

from collections.abc import Callable

from umfax.config import (
    Config,
    ConnectorConfig,
    ExchangeConnectorConfig,
    GraphConnectorConfig,
    ImapConnectorConfig,
    SmtpConnectorConfig,
    secret,
)
from umfax.mail.intake import MailIntake
from umfax.mail.ports import IntakeConnector
from umfax.mail.services import MailServices
from umfax.notifications.dispatch import Dispatcher
from umfax.notifications.ports import MailboxAppender, MailSender
from umfax.printer.ports import PrinterEndpoint
from umfax.store import Store

#: Makes the connector for one ``[[connectors]]`` entry (not started), feeding ``intake``.
IntakeFactory = Callable[[Config, Store, ConnectorConfig, MailIntake], IntakeConnector]
#: Makes the mailbox delivery of one kind, or None when its ``[mail.<kind>]`` is absent.
MailboxFactory = Callable[[Config], MailboxAppender | None]
#: Registers a channel's sender on the dispatcher when the configuration wants it.
ChannelWiring = Callable[[Config, Store, Dispatcher], None]


# -- mail in: one connector per [[connectors]] entry -----------------------------------------


def _imap_intake(
    config: Config, store: Store, connector: ConnectorConfig, intake: MailIntake
) -> IntakeConnector:
    from connectors.imap import ImapIntake

    assert isinstance(connector, ImapConnectorConfig)
    return ImapIntake(connector, intake.accept)


def _smtp_intake(
    config: Config, store: Store, connector: ConnectorConfig, intake: MailIntake
) -> IntakeConnector:
    from connectors.smtp import SmtpIntake

    assert isinstance(connector, SmtpConnectorConfig)
    return SmtpIntake(
        connector,
        check_recipient=intake.check_recipient,
        accept=intake.accept,
        hostname=connector.hostname or config.server.node_name,
    )


def _exchange_intake(
    config: Config, store: Store, connector: ConnectorConfig, intake: MailIntake
) -> IntakeConnector:
    from connectors.exchange import ExchangeIntake

    assert isinstance(connector, ExchangeConnectorConfig)
    return ExchangeIntake(connector, intake.accept)


def _graph_intake(
    config: Config, store: Store, connector: ConnectorConfig, intake: MailIntake
) -> IntakeConnector:
    from connectors.graph import GraphIntake
    from umfax.store.connector_state import ConnectorStateStore

    assert isinstance(connector, GraphConnectorConfig)
    positions = ConnectorStateStore(store, connector.label)
    return GraphIntake(connector, intake.accept, positions=positions)


INTAKE_CONNECTORS: dict[str, IntakeFactory] = {
    "imap": _imap_intake,
    "smtp": _smtp_intake,
    "exchange": _exchange_intake,
    "graph": _graph_intake,
}


def open_intake(
    config: Config, store: Store, connector: ConnectorConfig, intake: MailIntake
) -> IntakeConnector:
    """The connector for ``connector``'s declared ``type``, feeding ``intake`` (not started)."""
    return INTAKE_CONNECTORS[connector.type](config, store, connector, intake)


# -- mail out: users' mailboxes, SMTP, folders -----------------------------------------------


def _imap_mailbox(config: Config) -> MailboxAppender | None:
    if config.mail.imap is None:
        return None
    from connectors.imap import ImapDelivery

    return ImapDelivery(config.mail.imap)


def _exchange_mailbox(config: Config) -> MailboxAppender | None:
    if config.mail.exchange is None:
        return None
    from connectors.exchange import ExchangeDelivery

    return ExchangeDelivery(config.mail.exchange)


def _graph_mailbox(config: Config) -> MailboxAppender | None:
    if config.mail.graph is None:
        return None
    from connectors.graph import GraphDelivery

    return GraphDelivery(config.mail.graph)


MAILBOX_DELIVERIES: dict[str, MailboxFactory] = {
    "imap": _imap_mailbox,
    "exchange": _exchange_mailbox,
    "graph": _graph_mailbox,
}


def _smtp_sender(config: Config) -> MailSender | None:
    if not config.mail.smtp_host:
        return None
    from connectors.mail_out import SmtpSender

    return SmtpSender(config.mail, ca_file=config.mail.smtp_ca_file)


# -- notices: webhooks, text messages, Twilio Fax callbacks ----------------------------------


def _webhook_secret(config: Config) -> Callable[[str], str]:
    """Resolves the secret a webhook notice names: "callback", or "subscription:N"."""
    hooks = config.webhooks

    def resolve(reference: str) -> str:
        if reference.startswith("subscription:"):
            index = int(reference.split(":")[1])
            return secret(
                hooks.subscriptions[index].secret_env, f"webhooks.subscriptions[{index}].secret_env"
            )
        return secret(hooks.signing_secret_env, "webhooks.signing_secret_env")

    return resolve


def _webhooks(config: Config, store: Store, dispatcher: Dispatcher) -> None:
    from connectors.webhook import WebhookSender

    sender = WebhookSender(_webhook_secret(config), timeout=config.webhooks.timeout)
    dispatcher.register("webhook", sender.deliver)


def _texts(config: Config, store: Store, dispatcher: Dispatcher) -> None:
    if config.twilio is None:
        return
    from connectors.twilio_sms import TwilioSms

    dispatcher.register("sms", TwilioSms(config.twilio).deliver)


def _twilio_fax_callbacks(config: Config, store: Store, dispatcher: Dispatcher) -> None:
    if not config.api.enabled:
        return
    from connectors.webhook import TwilioFaxCallback
    from umfax.sealing import Sealer

    callbacks = TwilioFaxCallback(Sealer(config), timeout=config.webhooks.timeout)
    dispatcher.register("twilio_fax", callbacks.deliver)


NOTICE_CHANNELS: dict[str, ChannelWiring] = {
    "webhook": _webhooks,
    "sms": _texts,
    "twilio_fax": _twilio_fax_callbacks,
}


# -- the whole ---------------------------------------------------------------------------------


def dispatcher(config: Config, store: Store, worker: str) -> Dispatcher:
    """The outbox dispatcher with every destination the configuration declares."""
    from connectors.folder import FolderDelivery
    from umfax.notifications.relay import EventRelay

    smtp = _smtp_sender(config)
    mailboxes = {kind: make(config) for kind, make in MAILBOX_DELIVERIES.items()}
    built = Dispatcher(
        store,
        config,
        worker,
        smtp=smtp,
        imap=mailboxes["imap"],
        exchange=mailboxes["exchange"],
        graph=mailboxes["graph"],
        folder=FolderDelivery(),
    )
    if EventRelay.wanted(config):
        for wire in NOTICE_CHANNELS.values():
            wire(config, store, built)
    return built


def mail_services(config: Config, store: Store, worker_prefix: str) -> MailServices:
    """The mail side of ``umfax serve``: the dispatcher and the configured mail connectors."""
    return MailServices(
        config,
        store,
        dispatcher(config, store, f"{worker_prefix}outbox"),
        lambda connector, intake: open_intake(config, store, connector, intake),
    )


def printer(config: Config, store: Store) -> PrinterEndpoint | None:
    """The fax printer the API serves at /ipp/faxout, or None when ``[printer]`` is off."""
    if not (config.printer.enabled and config.api.enabled):
        return None
    import uuid
    from datetime import UTC, datetime

    from connectors.ipp.description import PrinterSettings
    from connectors.ipp.endpoint import IppEndpoint
    from connectors.ipp.printer import FaxOutPrinter, PrinterLimits
    from umfax.printer.faxes import StorePrinterPort

    section = config.printer
    settings = PrinterSettings(
        name=section.name,
        location=section.location,
        info=section.info,
        uuid=uuid.uuid5(uuid.NAMESPACE_URL, f"umfax:{config.server.node_name}:faxout").urn,
        default_media={"letter": "na_letter_8.5x11in", "legal": "na_legal_8.5x14in"}.get(
            config.fax.paper, "iso_a4_210x297mm"
        ),
        started=datetime.now(UTC),
    )
    limits = PrinterLimits(max_open_jobs=section.max_jobs_waiting, max_documents=config.api.max_documents)
    return IppEndpoint(FaxOutPrinter(StorePrinterPort(config, store), settings, limits))
