"""TOTP (RFC 6238, authenticator apps) for the console's second factor, with pyotp.

The secret is kept sealed (:mod:`umfax.sealing`: the ``[api] sealing_key_env`` key, else
the data directory's ``sealing.key``), marked ``sealed:``; a plain base32 secret (put
there by hand) is read as it is.  A code is accepted once (the same code again, within
its 30 s step, is refused: this process remembers the last step each secret was used at) and
one step early or late, for phones whose clocks drift.
"""

from __future__ import annotations

import hashlib
import threading
import time

import pyotp

from umfax.config import Config
from umfax.sealing import Sealer

SEALED = "sealed:"
ISSUER = "umfax"

_last_step: dict[str, int] = {}  # SHA-256 of a secret -> the last step used
_lock = threading.Lock()


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account_label: str) -> str:
    """The ``otpauth://`` URI authenticator apps read (as a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account_label, issuer_name=ISSUER)


def seal(config: Config, secret: str) -> str:
    return SEALED + Sealer(config).seal(secret)


def unseal(config: Config, stored: str) -> str:
    if stored.startswith(SEALED):
        return Sealer(config).open(stored[len(SEALED) :])
    return stored


def code_matches(secret: str, code: str, now: float | None = None) -> bool:
    """Whether ``code`` is the current code of ``secret`` (± one step), not used before."""
    code = "".join(code.split())
    if not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(secret)
    at = time.time() if now is None else now
    step = int(at // totp.interval)
    for offset in (0, -1, 1):
        candidate = step + offset
        if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
            key = hashlib.sha256(secret.encode()).hexdigest()
            with _lock:
                if _last_step.get(key, -1) >= candidate:
                    return False  # replayed
                if len(_last_step) > 100_000:
                    _last_step.clear()
                _last_step[key] = candidate
            return True
    return False
