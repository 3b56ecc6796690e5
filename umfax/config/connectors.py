"""[[connectors]]: the mail front ends (IMAP, SMTP, Exchange, Graph) and who may fax through them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from umfax.config.accounts import EwsAccountConfig, GraphAccountConfig
from umfax.config.section import Duration, TlsMode, _Section


class MailIntakeConfig(_Section):
    """What every mail connector (IMAP, SMTP, later EWS and Graph) shares: who may fax."""

    name: str = Field(default="", pattern=r"^[A-Za-z0-9_.:@-]{0,64}$")  # empty: derived from type/host
    enabled: bool = True
    # Who may fax: addresses and "@domain" entries; users in [[users]] with can_send may too.
    allowed_senders: list[str] = []
    # Trust the From address only when the receiving server's Authentication-Results
    # (authserv-id below) shows DMARC pass, or SPF or DKIM pass aligned with it.
    require_authentication: bool = False
    authserv_id: str = ""
    require_pin: bool = False  # the sender's [[users]] PIN must appear in the subject as "PIN 1234"
    body: Literal["cover", "page", "ignore"] = "cover"  # the mail body: cover comments or a first page
    refusal_replies: bool = True  # tell a refused sender why (rate-limited, never to bounces)

    @field_validator("allowed_senders")
    @classmethod
    def _senders(cls, value: list[str]) -> list[str]:
        for entry in value:
            if "@" not in entry or entry.count("@") > 1 or entry.endswith("@"):
                raise ValueError(f"{entry!r} is neither an address (a@b.example) nor a domain (@b.example)")
        return [entry.lower() for entry in value]

    @model_validator(mode="after")
    def _authserv(self) -> MailIntakeConfig:
        if self.require_authentication and not self.authserv_id:
            raise ValueError(
                "require_authentication needs authserv_id: the name your receiving mail server puts "
                "first in its Authentication-Results headers"
            )
        return self


class ImapConnectorConfig(MailIntakeConfig):
    type: Literal["imap"]
    host: str
    port: int = Field(default=0, ge=0, le=65535)  # 0: 993 for implicit TLS, else 143
    username: str
    password_env: str = ""  # environment variable holding the password
    oauth_token_env: str = ""  # ... or an OAuth 2 access token (XOAUTH2) instead
    tls: TlsMode = "implicit"
    tls_verify: bool = True
    ca_file: Path | None = None
    folder: str = "INBOX"
    processed: Literal["flag", "move"] = "move"  # after the jobs are committed
    processed_folder: str = "Faxed"
    refused_folder: str = "Refused"
    idle: bool = True  # use IMAP IDLE when the server offers it, else poll
    poll_interval: Duration = 30.0
    idle_timeout: Duration = 600.0  # renew IDLE this often (RFC 2177: under 29 min)
    reconnect_max: Duration = 300.0  # backoff ceiling after a lost connection

    @model_validator(mode="after")
    def _credentials(self) -> ImapConnectorConfig:
        if bool(self.password_env) == bool(self.oauth_token_env):
            raise ValueError("set exactly one of password_env and oauth_token_env")
        if self.tls == "none" and self.host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("tls = 'none' sends the password in clear: only allowed to localhost")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "implicit" else 143)

    @property
    def label(self) -> str:
        return self.name or f"imap:{self.username}@{self.host}/{self.folder}"


class SmtpConnectorConfig(MailIntakeConfig):
    type: Literal["smtp"]
    listen: str = "127.0.0.1:2525"
    hostname: str = ""  # in the banner and HELO; empty: [server].node_name
    tls_cert: Path | None = None  # with tls_key: offer STARTTLS
    tls_key: Path | None = None
    require_tls: bool = False
    auth_username: str = ""  # with auth_password_env: offer AUTH PLAIN/LOGIN (after STARTTLS)
    auth_password_env: str = ""
    require_auth: bool = False
    max_message_size: int = Field(default=30 * 1024 * 1024, ge=1024)

    @model_validator(mode="after")
    def _tls_pair(self) -> SmtpConnectorConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if self.require_tls and self.tls_cert is None:
            raise ValueError("require_tls needs tls_cert and tls_key")
        if bool(self.auth_username) != bool(self.auth_password_env):
            raise ValueError("auth_username and auth_password_env go together")
        if self.require_auth and not self.auth_username:
            raise ValueError("require_auth needs auth_username and auth_password_env")
        return self

    @property
    def label(self) -> str:
        return self.name or f"smtp:{self.listen}"


def _check_fax_mailbox(mailbox: str, folder: str, processed_folder: str, refused_folder: str) -> None:
    """A watched mailbox (EWS, Graph): an SMTP address, and folders to settle mail into that
    differ from the watched one."""
    if "@" not in mailbox:
        raise ValueError(f"mailbox {mailbox!r} is not an SMTP address")
    for key, name in (("processed_folder", processed_folder), ("refused_folder", refused_folder)):
        if name.strip("/").lower() == folder.strip("/").lower():
            raise ValueError(f"{key} must differ from folder {folder!r}")


class ExchangeConnectorConfig(MailIntakeConfig, EwsAccountConfig):
    """Faxes from an Exchange mailbox through EWS (exchangelib)."""

    type: Literal["exchange"]
    mailbox: str  # the SMTP address of the mailbox watched (the fax mailbox, or a user's)
    folder: str = "Inbox"  # watched: "Inbox", or a path from the top of the mailbox ("Faxes/Outgoing")
    processed_folder: str = "Faxed"  # items whose jobs are committed go here (created when missing)
    refused_folder: str = "Refused"  # refused or invalid items go here
    pull_notifications: bool = True  # ask for new-item events (EWS pull subscription) when offered
    poll_interval: Duration = 10.0  # how often events are fetched, or (no subscription) the folder searched
    full_scan_interval: Duration = 300.0  # with a subscription: search the whole folder this often anyway
    reconnect_max: Duration = 300.0  # backoff ceiling after an error

    @model_validator(mode="after")
    def _folders(self) -> ExchangeConnectorConfig:
        _check_fax_mailbox(self.mailbox, self.folder, self.processed_folder, self.refused_folder)
        return self

    @property
    def label(self) -> str:
        return self.name or f"exchange:{self.mailbox}/{self.folder}"


class GraphConnectorConfig(MailIntakeConfig, GraphAccountConfig):
    """Faxes from a mailbox through Microsoft Graph (app-only, client credentials)."""

    type: Literal["graph"]
    mailbox: str  # the SMTP address of the mailbox watched
    folder: str = "inbox"  # watched: a well-known folder name ("inbox") or a top-level display name
    processed_folder: str = "Faxed"  # messages whose jobs are committed go here (created when missing)
    refused_folder: str = "Refused"  # refused or invalid messages go here
    poll_interval: Duration = 10.0  # how often the delta query runs
    reconnect_max: Duration = 300.0  # backoff ceiling after an error

    @model_validator(mode="after")
    def _folders(self) -> GraphConnectorConfig:
        _check_fax_mailbox(self.mailbox, self.folder, self.processed_folder, self.refused_folder)
        return self

    @property
    def label(self) -> str:
        return self.name or f"graph:{self.mailbox}/{self.folder}"


ConnectorConfig = Annotated[
    ImapConnectorConfig | SmtpConnectorConfig | ExchangeConnectorConfig | GraphConnectorConfig,
    Field(discriminator="type"),
]
