"""Secrets the server must keep to use later, sealed (Fernet: AES-128-CBC + HMAC-SHA256).

The only such secret so far is the API key a Twilio-compatible client submitted a fax
with: Twilio clients check our status callbacks with that key (their "auth token"), so
the server needs it again when the fax ends, while the key table keeps only digests.
The sealing key comes from the environment variable ``[api] sealing_key_env`` names
(required when several servers share one database), else from ``sealing.key`` in the
data directory, created on first use, readable by the server's user only.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from umfax.config import Config
from umfax.errors import ConfigError, UmfaxError, describe_error


class SealError(UmfaxError):
    """A sealed value cannot be opened (another sealing key, or tampered with)."""


def _key(config: Config) -> bytes:
    if config.api.sealing_key_env:
        value = os.environ.get(config.api.sealing_key_env, "")
        if not value:
            raise ConfigError(
                f"api.sealing_key_env names {config.api.sealing_key_env!r}, which is not set; export "
                "a key made with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`"
            )
        return value.encode()
    path = config.server.data_dir / "sealing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return Path(path).read_bytes().strip()


class Sealer:
    def __init__(self, config: Config) -> None:
        try:
            self._fernet = Fernet(_key(config))
        except ValueError as exc:
            raise ConfigError(f"the sealing key is not a Fernet key: {describe_error(exc)}") from exc

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise SealError("a sealed secret cannot be opened with this server's sealing key") from exc
