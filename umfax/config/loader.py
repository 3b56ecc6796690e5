"""Reading the configuration: the TOML file (or the embedded defaults), secrets from the
environment, and validation errors that name the offending keys."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from umfax.config.root import Config
from umfax.errors import ConfigError, describe_error

CONFIG_ENV = "UMFAX_CONFIG"


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
        raise ConfigError(f"{path} is not valid TOML: {describe_error(exc)}") from exc
    config = parse_config(data, str(path))
    return config.model_copy(update={"source": path})
