"""The whole configuration: every section, the checks across sections, and the database URL."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator

from umfax.config.api import ApiConfig, TwilioConfig, WebhooksConfig
from umfax.config.connectors import ConnectorConfig
from umfax.config.console import ConsoleConfig
from umfax.config.dial_rules import DialRulesConfig
from umfax.config.lines import DEFAULT_SIM_LINES, LineConfig, SimulatorConfig
from umfax.config.mail import MailConfig
from umfax.config.printer import PrinterConfig
from umfax.config.section import _Section
from umfax.config.server import ConversionConfig, FaxConfig, QueueConfig, ServerConfig, StoreConfig
from umfax.config.trunks import TrunkConfig, trunk_channel
from umfax.config.users import RoutingConfig, UserConfig
from umfax.config.voice import VoiceConfig
from umfax.errors import ConfigError


class Config(_Section):
    server: ServerConfig = Field(default_factory=ServerConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    fax: FaxConfig = Field(default_factory=FaxConfig)
    queue: QueueConfig = Field(default_factory=QueueConfig)
    conversion: ConversionConfig = Field(default_factory=ConversionConfig)
    dial_rules: DialRulesConfig = Field(default_factory=DialRulesConfig)
    simulator: SimulatorConfig = Field(default_factory=SimulatorConfig)
    lines: list[LineConfig] = Field(default_factory=lambda: list(DEFAULT_SIM_LINES))
    trunks: list[TrunkConfig] = []
    connectors: list[ConnectorConfig] = []
    users: list[UserConfig] = []
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    voice: VoiceConfig = Field(default_factory=VoiceConfig)
    mail: MailConfig = Field(default_factory=MailConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    printer: PrinterConfig = Field(default_factory=PrinterConfig)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)
    twilio: TwilioConfig | None = None
    source: Path | None = Field(default=None, exclude=True)  # the file this came from

    @model_validator(mode="after")
    def _trunk_channels(self) -> Config:
        """Each trunk's channels join ``lines`` (``NAME-1``... on ``sip:NAME/1``...).  With
        trunks and no ``[[lines]]``, the default simulated lines are left out."""
        trunks = {trunk.name: trunk for trunk in self.trunks}
        if len(trunks) != len(self.trunks):
            raise ValueError("two [[trunks]] have the same name; names must be unique")
        kept = []
        for line in self.lines:
            channel = trunk_channel(line.port)
            if line.port.startswith("sip:") and (channel is None or channel[0] not in trunks):
                raise ValueError(
                    f"line {line.name}: port {line.port!r} is not a trunk channel; "
                    "describe a SIP trunk in [[trunks]] and its channels become lines"
                )
            if channel is None:  # (a trunk's channel here comes from a dump of a loaded config)
                kept.append(line)
        if self.trunks and "lines" not in self.model_fields_set:
            kept = []
        channels = [line for trunk in self.trunks for line in trunk.channel_lines()]
        object.__setattr__(self, "lines", kept + channels)  # the model is frozen
        return self

    @model_validator(mode="after")
    def _unique_lines(self) -> Config:
        seen: set[str] = set()
        for line in self.lines:
            if line.name in seen:
                raise ValueError(f"two lines are named {line.name!r}; names must be unique")
            seen.add(line.name)
        names = {user.name for user in self.users}
        if len(names) != len(self.users):
            raise ValueError("two [[users]] have the same name; names must be unique")
        emails = [user.email.lower() for user in self.users]
        if len(set(emails)) != len(emails):
            raise ValueError("two [[users]] have the same email")
        for route in [*self.routing.routes, None]:
            wanted = route.users if route else self.routing.default
            for name in wanted:
                if name not in names:
                    raise ValueError(f"routing names user {name!r}, which is not in [[users]]")
        labels = [c.label for c in self.connectors]
        if len(set(labels)) != len(labels):
            raise ValueError("two [[connectors]] have the same name; give them distinct `name`s")
        if any(u.delivery == "imap" for u in self.users) and self.mail.imap is None:
            raise ValueError("a user has delivery = 'imap' but [mail.imap] is not configured")
        if any(u.delivery == "exchange" for u in self.users) and self.mail.exchange is None:
            raise ValueError("a user has delivery = 'exchange' but [mail.exchange] is not configured")
        if any(u.delivery == "graph" for u in self.users) and self.mail.graph is None:
            raise ValueError("a user has delivery = 'graph' but [mail.graph] is not configured")
        return self

    def trunk_of(self, line: LineConfig) -> TrunkConfig | None:
        """The [[trunks]] entry whose channel ``line`` is, or None (a modem line)."""
        channel = trunk_channel(line.port)
        if channel is None:
            return None
        return next((trunk for trunk in self.trunks if trunk.name == channel[0]), None)

    def database_url(self) -> str:
        if self.store.url_env:
            value = os.environ.get(self.store.url_env)
            if not value:
                raise ConfigError(
                    f"store.url_env names the environment variable {self.store.url_env!r}, "
                    "which is not set; export it with the database URL"
                )
            return value
        if self.store.url:
            return self.store.url
        return f"sqlite:///{self.server.data_dir / 'umfax.db'}"
