"""Where umfax runs and how it queues: [server], [store], [fax], [queue] and [conversion]."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from umfax.config.section import Duration, _Section

DATA_DIR_ENV = "UMFAX_DATA_DIR"


def default_data_dir() -> Path:
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "umfax"


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
    cover_templates: Path | None = None  # a folder of more templates (*.json) senders may choose

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
    no_t38: Duration = 300.0


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
