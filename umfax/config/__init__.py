"""Configuration: a TOML file validated at start, with embedded defaults.

With no file, umfax runs on SQLite in its data directory with two simulated
lines.  Every key is documented in ``config.example.toml``.  Secrets never sit in
the file: keys ending in ``_env`` name the environment variable that holds them.

One module per part of the file, each a set of frozen pydantic models:
``server`` ([server], [store], [fax], [queue], [conversion]), ``dial_rules``,
``lines`` ([[lines]], [simulator]), ``connectors`` ([[connectors]]), ``accounts``
(Exchange and Graph logins), ``mail`` ([mail]), ``users`` ([[users]], [routing]),
``api`` ([api], [webhooks], [twilio]), ``console`` ([console]), ``printer`` ([printer]), ``voice`` ([voice]),
``root`` (the whole file) and ``loader`` (reading it).  Everything is imported from here:
``from umfax.config import Config``.
"""

from umfax.config.accounts import EwsAccountConfig, GraphAccountConfig
from umfax.config.api import WEBHOOK_EVENTS, ApiConfig, TwilioConfig, WebhooksConfig, WebhookSubscription
from umfax.config.connectors import (
    ConnectorConfig,
    ExchangeConnectorConfig,
    GraphConnectorConfig,
    ImapConnectorConfig,
    MailIntakeConfig,
    SmtpConnectorConfig,
)
from umfax.config.console import ConsoleConfig, OidcProviderConfig
from umfax.config.dial_rules import DialRulesConfig
from umfax.config.lines import DEFAULT_SIM_LINES, DEFAULT_SIM_REMOTES, LineConfig, SimRemote, SimulatorConfig
from umfax.config.loader import CONFIG_ENV, load_config, parse_config, secret
from umfax.config.mail import ExchangeDeliveryConfig, GraphDeliveryConfig, ImapDeliveryConfig, MailConfig
from umfax.config.printer import PrinterConfig
from umfax.config.root import Config
from umfax.config.section import Duration, TlsMode
from umfax.config.server import (
    DATA_DIR_ENV,
    ConversionConfig,
    FaxConfig,
    QueueConfig,
    RetryDelays,
    ServerConfig,
    StoreConfig,
    default_data_dir,
)
from umfax.config.trunks import TrunkConfig, trunk_channel
from umfax.config.users import JunkConfig, RouteConfig, RoutingConfig, UserConfig
from umfax.config.voice import VoiceConfig, split_voice_rule

__all__ = [
    "CONFIG_ENV",
    "DATA_DIR_ENV",
    "DEFAULT_SIM_LINES",
    "DEFAULT_SIM_REMOTES",
    "WEBHOOK_EVENTS",
    "ApiConfig",
    "Config",
    "ConnectorConfig",
    "ConsoleConfig",
    "ConversionConfig",
    "DialRulesConfig",
    "Duration",
    "EwsAccountConfig",
    "ExchangeConnectorConfig",
    "ExchangeDeliveryConfig",
    "FaxConfig",
    "GraphAccountConfig",
    "GraphConnectorConfig",
    "GraphDeliveryConfig",
    "ImapConnectorConfig",
    "ImapDeliveryConfig",
    "JunkConfig",
    "LineConfig",
    "MailConfig",
    "MailIntakeConfig",
    "OidcProviderConfig",
    "PrinterConfig",
    "QueueConfig",
    "RetryDelays",
    "RouteConfig",
    "RoutingConfig",
    "ServerConfig",
    "SimRemote",
    "SimulatorConfig",
    "SmtpConnectorConfig",
    "StoreConfig",
    "TlsMode",
    "TrunkConfig",
    "TwilioConfig",
    "UserConfig",
    "VoiceConfig",
    "WebhookSubscription",
    "WebhooksConfig",
    "default_data_dir",
    "load_config",
    "parse_config",
    "secret",
    "split_voice_rule",
    "trunk_channel",
]
