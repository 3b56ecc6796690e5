"""API keys: created, checked, listed and revoked.

A key reads ``umf_<prefix>_<secret>``: the prefix (8 random hex digits) is public and
finds the row; only the SHA-256 of the secret (32 random bytes) is stored.  A slow
password hash (bcrypt, scrypt) protects guessable secrets; a 256-bit random secret
cannot be guessed, so one SHA-256 keeps a stolen table useless while checking a key
stays cheap enough for every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update

from umfax.errors import NotFound, UmfaxError
from umfax.store.models import ApiKey, utcnow
from umfax.store.store import Store

KEY_PREFIX = "umf_"

#: What a key may do.  ``fax:send`` and ``fax:read`` concern the key owner's own faxes
#: (all faxes for an admin); ``inbound:read`` the received faxes routed to the owner.
SCOPES = ("fax:send", "fax:read", "inbound:read", "lines:read")
DEFAULT_SCOPES = SCOPES


class InvalidScope(UmfaxError):
    """A scope that does not exist."""


@dataclass(frozen=True, slots=True)
class KeyOwner:
    key_id: int
    user_name: str
    scopes: frozenset[str]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(key: str) -> tuple[str, str] | None:
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, _, secret = key[len(KEY_PREFIX) :].partition("_")
    if len(prefix) != 8 or not secret:
        return None
    return prefix, secret


class ApiKeyStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(
        self, user_name: str, scopes: Sequence[str] = DEFAULT_SCOPES, label: str = ""
    ) -> tuple[int, str]:
        """A new key for ``user_name``: (its id, the key).  The key is not kept."""
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise InvalidScope(f"unknown scope {', '.join(unknown)}; scopes are {', '.join(SCOPES)}")
        prefix = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        with self.store.writing() as session:
            row = ApiKey(
                user_name=user_name,
                prefix=prefix,
                digest=_digest(secret),
                scopes=sorted(set(scopes)),
                label=label,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            key_id = row.id
        return key_id, f"{KEY_PREFIX}{prefix}_{secret}"

    def check(self, key: str) -> KeyOwner | None:
        """The owner of a valid, unrevoked key, or None."""
        parts = _split(key.strip())
        if parts is None:
            return None
        prefix, secret = parts
        with self.store.reading() as session:
            row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.digest, _digest(secret)):
            return None
        return KeyOwner(row.id, row.user_name, frozenset(row.scopes))

    def touch(self, key_id: int) -> None:
        with self.store.writing() as session:
            session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow()))

    def list(self, user_name: str | None = None) -> list[ApiKey]:
        with self.store.reading() as session:
            query = select(ApiKey).order_by(ApiKey.id)
            if user_name is not None:
                query = query.where(ApiKey.user_name == user_name)
            return list(session.scalars(query))

    def revoke(self, key_id: int) -> ApiKey:
        with self.store.writing() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                raise NotFound(f"there is no API key {key_id}; `umfax apikey list` shows them")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            return row
