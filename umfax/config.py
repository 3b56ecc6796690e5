"""Configuration: a TOML file validated at start, with embedded defaults.

With no file, umfax runs on SQLite in its data directory with two simulated
lines.  Every key is documented in ``config.example.toml``.  Secrets never sit in
the file: keys ending in ``_env`` name the environment variable that holds them.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from umfax.dialpatterns import compile_pattern
from umfax.durations import parse_duration
from umfax.errors import ConfigError

Duration = Annotated[float, BeforeValidator(parse_duration)]

CONFIG_ENV = "UMFAX_CONFIG"
DATA_DIR_ENV = "UMFAX_DATA_DIR"


def default_data_dir() -> Path:
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "umfax"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    data_dir: Path = Field(default_factory=default_data_dir)
    node_name: str = Field(default_factory=socket.gethostname)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()


class StoreConfig(_Section):
    url: str = ""  # empty: sqlite in data_dir
    url_env: str = ""  # name of an environment variable holding the URL (with password)
    pool_size: int = Field(default=10, ge=1, le=200)

    @model_validator(mode="after")
    def _one_source(self) -> StoreConfig:
        if self.url and self.url_env:
            raise ValueError("set either url or url_env, not both")
        if self.url and "@" in self.url and ":" in self.url.split("@", 1)[0].split("//", 1)[-1]:
            raise ValueError(
                "the URL contains a password; put it in an environment variable and "
                "name that variable in url_env"
            )
        return self


class FaxConfig(_Section):
    default_country: str = "US"
    station_id: str = Field(default="", max_length=20)  # TSI/CSI: digits, spaces, '+'
    sender_name: str = "umfax"  # shown in the page header line
    header: bool = True  # print a header line (TagLine) on every page
    resolution: Literal["standard", "fine", "superfine"] = "fine"
    paper: Literal["a4", "letter", "legal"] = "letter"
    cover: bool = True
    cover_template: Path | None = None

    @field_validator("default_country")
    @classmethod
    def _country(cls, value: str) -> str:
        import phonenumbers

        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not an ISO 3166 country code such as 'US' or 'DE'")
        return value

    @field_validator("station_id")
    @classmethod
    def _station(cls, value: str) -> str:
        if any(ch not in "0123456789+ " for ch in value):
            raise ValueError("only digits, spaces and '+' may appear in a fax station ID")
        return value


class RetryDelays(_Section):
    busy: Duration = 180.0
    no_answer: Duration = 600.0
    no_carrier: Duration = 300.0
    no_dialtone: Duration = 60.0
    modem_error: Duration = 30.0
    protocol_error: Duration = 120.0
    line_dropped: Duration = 60.0
    remote_rejected: Duration = 600.0


class ConversionConfig(_Section):
    """How documents are turned into fax pages."""

    isolate: bool = True  # convert in a child process, so a hostile document cannot stall the server
    timeout: Duration = 300.0  # with isolate: a job's documents taking longer are abandoned
    memory_limit_mb: int = Field(default=2048, ge=0)  # with isolate: address space of the child (0: none)


class QueueConfig(_Section):
    max_tries: int = Field(default=3, ge=1, le=100)
    max_dials: int = Field(default=12, ge=1, le=1000)
    kill_after: Duration = 10800.0  # 3 h from submission
    lease: Duration = 60.0  # a claimed job returns to the queue this long after its worker died
    poll_interval: Duration = 1.0
    retry: RetryDelays = Field(default_factory=RetryDelays)


class DialRulesConfig(_Section):
    outside_line: str = ""  # e.g. "9," to get an outside line from a PBX
    international_prefix: str = ""  # empty: the default country's (011 in NANP, 00 elsewhere)
    national_prefix: str = ""  # empty: the default country's trunk prefix (1 in NANP, 0 elsewhere)
    local_area_codes: list[str] = []  # dialled without the national prefix
    allow_international: bool = False
    allow_premium: bool = False
    blocked: list[str] = []  # E.164 prefixes or glob patterns never dialled
    allowed: list[str] = []  # exceptions to the above (e.g. one international client)
    # Numbers dialled exactly as written (PBX extensions, short codes), by pattern:
    # X any digit, Z 1-9, N 2-9, [1-5] a set, final '.' more keys; see umfax.dialpatterns.
    # Not subject to the international/premium rules, nor to outside_line; blocked applies.
    extensions: list[str] = []

    @field_validator("extensions")
    @classmethod
    def _extensions(cls, value: list[str]) -> list[str]:
        for pattern in value:
            compile_pattern(pattern)  # ValueError names the pattern and what is wrong
        return value


class LineConfig(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    port: str  # pyserial URL or device path, or sim:NUMBER for a simulated line
    number: str = ""  # this line's own number (caller ID / inbound routing)
    enabled: bool = True
    send: bool = True
    receive: bool = True
    baud: int = 115200
    init: list[str] = ["ATZ", "ATE0V1Q0"]
    answer_after_rings: int = Field(default=2, ge=1, le=20)
    adaptive_answer: bool = False  # T.31 +FAE=1: hang up on data modems at once (Class 1 modems)
    station_id: str = ""  # overrides [fax].station_id for this line
    ecm: bool = True
    max_bit_rate: Literal[2400, 4800, 7200, 9600, 12000, 14400] = 14400
    probe_interval: Duration = 300.0
    batch_jobs: int = Field(default=10, ge=1, le=100)  # jobs to one number sent in one call
    max_consecutive_failures: int = Field(default=5, ge=1)

    @field_validator("port")
    @classmethod
    def _port(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError(
                "a port is required, e.g. '/dev/ttyUSB0', 'socket://host:port' or 'sim:+12125550100'"
            )
        if value.startswith("sim:") and len(value) == 4:
            raise ValueError("a simulated port needs a number, e.g. 'sim:+12125550100'")
        return value

    @property
    def simulated(self) -> bool:
        return self.port.startswith("sim:")


class SimRemote(_Section):
    number: str
    kind: Literal["receiver", "busy", "no_answer", "drop_mid_page"]
    name: str = ""


DEFAULT_SIM_REMOTES = (
    SimRemote(number="+12125550110", kind="receiver", name="receiver"),
    SimRemote(number="+12125550111", kind="busy", name="busy"),
    SimRemote(number="+12125550112", kind="no_answer", name="noanswer"),
    SimRemote(number="+12125550113", kind="drop_mid_page", name="dropper"),
)


class SimulatorConfig(_Section):
    speed: float = Field(default=10.0, gt=0, le=10000)  # 1.0 = real time
    remotes: list[SimRemote] = Field(default_factory=lambda: list(DEFAULT_SIM_REMOTES))


DEFAULT_SIM_LINES = (
    LineConfig(name="sim1", port="sim:+12125550100", number="+12125550100"),
    LineConfig(name="sim2", port="sim:+12125550101", number="+12125550101"),
)


TlsMode = Literal["implicit", "starttls", "none"]


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


class EwsAccountConfig(_Section):
    """How umfax reaches an Exchange Server's EWS (the connector, and [mail.exchange])."""

    url: str = ""  # the EWS endpoint, https://mail.example.com/EWS/Exchange.asmx; empty: autodiscover
    username: str = ""  # DOMAIN\\user or user@domain (ntlm, basic)
    password_env: str = ""  # environment variable holding the password (ntlm, basic)
    auth: Literal["ntlm", "basic", "oauth"] = "ntlm"
    client_id: str = ""  # auth = "oauth": the app registration's client id ...
    tenant_id: str = ""  # ... its tenant ...
    client_secret_env: str = ""  # ... and the environment variable holding its secret
    impersonation: bool = True  # act as the mailbox owner (ApplicationImpersonation), else as a delegate
    tls_verify: bool = True
    ca_file: Path | None = None  # a CA bundle for a private CA

    @model_validator(mode="after")
    def _ews_credentials(self) -> EwsAccountConfig:
        if self.auth == "oauth":
            if not (self.client_id and self.tenant_id and self.client_secret_env):
                raise ValueError("auth = 'oauth' needs client_id, tenant_id and client_secret_env")
        elif not (self.username and self.password_env):
            raise ValueError(f"auth = {self.auth!r} needs username and password_env")
        if self.url and not re.match(r"^https?://", self.url):
            raise ValueError(f"url {self.url!r} is not an http(s) URL of the EWS endpoint")
        if self.url.startswith("http://") and self.auth == "basic":
            host = self.url.split("/")[2].rsplit(":", 1)[0]
            if host not in ("127.0.0.1", "localhost", "[::1]"):
                raise ValueError("auth = 'basic' over http:// sends the password in clear: use https")
        return self


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


class GraphAccountConfig(_Section):
    """How umfax reaches Microsoft Graph: an app registration, app-only (client credentials)."""

    tenant_id: str  # the Entra ID tenant (id or domain)
    client_id: str  # the app registration's client id
    client_secret_env: str  # the environment variable holding the app's client secret
    authority_host: str = "https://login.microsoftonline.com"  # Entra ID (msal's authority, https only)
    graph_url: str = "https://graph.microsoft.com/v1.0"  # Graph REST base URL
    tls_verify: bool = True
    ca_file: Path | None = None  # a CA bundle for a private CA (a proxy that inspects TLS)

    @model_validator(mode="after")
    def _graph_urls(self) -> GraphAccountConfig:
        if not self.authority_host.startswith("https://"):
            raise ValueError(f"authority_host {self.authority_host!r} is not an https URL (msal needs https)")
        if not re.match(r"^https?://", self.graph_url):
            raise ValueError(f"graph_url {self.graph_url!r} is not an http(s) URL")
        return self


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


class UserConfig(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    email: str
    display_name: str = ""
    mobile: str = ""  # E.164, for SMS alerts
    fax_numbers: list[str] = []  # DIDs: faxes to these numbers are routed to this user
    can_send: bool = True
    admin: bool = False
    pin_env: str = ""  # environment variable holding the user's PIN (when connectors require one)
    delivery: Literal["imap", "smtp", "folder", "exchange", "graph", "none"] = "smtp"  # faxes and reports
    imap_folder: str = "INBOX"  # with delivery = "imap"
    exchange_folder: str = "Inbox"  # with delivery = "exchange": "Inbox" or a path from the mailbox top
    graph_folder: str = "inbox"  # with delivery = "graph": a well-known name or a top-level display name
    folder: Path | None = None  # with delivery = "folder"
    reports: Literal["always", "failure", "never"] = "always"  # email status reports
    sms: Literal["always", "failure", "never"] = "failure"  # text messages to mobile ([twilio] needed)

    @model_validator(mode="after")
    def _delivery(self) -> UserConfig:
        if "@" not in self.email:
            raise ValueError(f"email {self.email!r} is not an address")
        if self.delivery == "folder" and self.folder is None:
            raise ValueError("delivery = 'folder' needs folder")
        if self.mobile and not re.fullmatch(r"\+[1-9][0-9]{6,14}", self.mobile):
            raise ValueError(f"mobile {self.mobile!r} is not in E.164 form (e.g. +12125550177)")
        return self


class RouteConfig(_Section):
    """An inbound route: every condition given must match (globs, e.g. "+1212555*")."""

    line: str = ""
    called: str = ""  # the DID called
    caller: str = ""  # caller ID number
    csi: str = ""  # the sender's station ID (TSI)
    users: list[str]  # [[users]] names


class JunkConfig(_Section):
    callers: list[str] = []  # caller ID globs
    csi: list[str] = []  # station ID globs
    action: Literal["reject", "quarantine"] = "reject"  # hang up, or receive into quarantine


class RoutingConfig(_Section):
    routes: list[RouteConfig] = []
    default: list[str] = []  # users for faxes no route matched; empty: stored, shown in `umfax inbox`
    junk: JunkConfig = Field(default_factory=JunkConfig)


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


class Config(_Section):
    server: ServerConfig = Field(default_factory=ServerConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    fax: FaxConfig = Field(default_factory=FaxConfig)
    queue: QueueConfig = Field(default_factory=QueueConfig)
    conversion: ConversionConfig = Field(default_factory=ConversionConfig)
    dial_rules: DialRulesConfig = Field(default_factory=DialRulesConfig)
    simulator: SimulatorConfig = Field(default_factory=SimulatorConfig)
    lines: list[LineConfig] = Field(default_factory=lambda: list(DEFAULT_SIM_LINES))
    connectors: list[ConnectorConfig] = []
    users: list[UserConfig] = []
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    mail: MailConfig = Field(default_factory=MailConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)
    twilio: TwilioConfig | None = None
    source: Path | None = Field(default=None, exclude=True)  # the file this came from

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


def secret(env_name: str, key: str) -> str:
    """The value of the environment variable a ``*_env`` key names."""
    value = os.environ.get(env_name)
    if not value:
        raise ConfigError(f"{key} names the environment variable {env_name!r}, which is not set")
    return value


def _format_errors(exc: ValidationError, origin: str) -> str:
    lines = [f"{origin} is not valid:"]
    for err in exc.errors():
        loc = ""
        for part in err["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against config.example.toml)"
        lines.append(f"  {loc or '(top level)'}: {msg}")
    return "\n".join(lines)


def parse_config(data: dict[str, Any], origin: str = "configuration") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, origin)) from exc


def load_config(path: Path | str | None = None) -> Config:
    """Load ``path``, else ``$UMFAX_CONFIG``, else the embedded defaults."""
    if path is None:
        env = os.environ.get(CONFIG_ENV)
        path = Path(env) if env else None
    if path is None:
        return Config()
    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    config = parse_config(data, str(path))
    return config.model_copy(update={"source": path})
