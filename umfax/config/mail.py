"""[mail]: outgoing mail, and where received faxes and reports are delivered into mailboxes."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from umfax.config.accounts import EwsAccountConfig, GraphAccountConfig
from umfax.config.section import TlsMode, _Section


class ImapDeliveryConfig(_Section):
    """Where received faxes and reports are APPENDed for users with delivery = "imap":
    one administrative login that may act as each user (SASL PLAIN authorization
    identity, e.g. a Dovecot master user), or each user's own address as login."""

    host: str
    port: int = Field(default=0, ge=0, le=65535)
    tls: TlsMode = "implicit"
    tls_verify: bool = True
    ca_file: Path | None = None
    username: str  # the administrative login
    password_env: str
    act_as_user: bool = True  # authorize as the user's email (PLAIN authzid)

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "implicit" else 143)


class ExchangeDeliveryConfig(EwsAccountConfig):
    """Where received faxes and reports are created for users with delivery = "exchange":
    an EWS service account that impersonates each user (or is their delegate)."""


class GraphDeliveryConfig(GraphAccountConfig):
    """Where received faxes and reports are created for users with delivery = "graph": an
    app registration with the Mail.ReadWrite application permission (limited to those
    mailboxes by an application access policy)."""


class MailConfig(_Section):
    fax_domains: list[str] = []  # NUMBER@domain is a fax address (e.g. fax.example.com)
    from_address: str = "umfax@localhost"  # From of reports and received-fax messages
    from_name: str = "umfax fax server"
    smtp_host: str = ""  # outgoing mail (reports, replies, delivery = "smtp"); empty: none
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_tls: TlsMode = "starttls"
    smtp_tls_verify: bool = True
    smtp_ca_file: Path | None = None  # a CA bundle for a private CA
    smtp_username: str = ""
    smtp_password_env: str = ""
    imap: ImapDeliveryConfig | None = None
    exchange: ExchangeDeliveryConfig | None = None  # [mail.exchange], for delivery = "exchange"
    graph: GraphDeliveryConfig | None = None  # [mail.graph], for delivery = "graph"
    replies_per_hour: int = Field(default=5, ge=0)  # refusal replies to one address

    @field_validator("fax_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return [d.lower().lstrip("@") for d in value]
