"""Configuration: a TOML file validated at start, with embedded defaults.

With no file, umfax runs on SQLite in its data directory with two simulated
lines.  Every key is documented in ``config.example.toml``.  Secrets never sit in
the file: keys ending in ``_env`` name the environment variable that holds them.
"""

from __future__ import annotations

import os
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


class Config(_Section):
    server: ServerConfig = Field(default_factory=ServerConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    fax: FaxConfig = Field(default_factory=FaxConfig)
    queue: QueueConfig = Field(default_factory=QueueConfig)
    dial_rules: DialRulesConfig = Field(default_factory=DialRulesConfig)
    simulator: SimulatorConfig = Field(default_factory=SimulatorConfig)
    lines: list[LineConfig] = Field(default_factory=lambda: list(DEFAULT_SIM_LINES))
    source: Path | None = Field(default=None, exclude=True)  # the file this came from

    @model_validator(mode="after")
    def _unique_lines(self) -> Config:
        seen: set[str] = set()
        for line in self.lines:
            if line.name in seen:
                raise ValueError(f"two lines are named {line.name!r}; names must be unique")
            seen.add(line.name)
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
