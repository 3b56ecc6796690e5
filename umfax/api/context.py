"""What every request handler shares: the configuration, the store, keys, limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from umfax.api.ratelimit import RateLimiter
from umfax.config import Config, UserConfig
from umfax.directory import UserDirectory
from umfax.store import Store
from umfax.store.api_keys import ApiKeyStore, KeyOwner

#: How long a checked key is trusted without asking the store again: a revoked key
#: stops working within this time.
KEY_CACHE_SECONDS = 5.0


@dataclass
class ApiContext:
    config: Config
    store: Store
    #: Health of the parts the store does not know: connectors, by name (see MailServices.health).
    connector_health: Callable[[], dict[str, Any]] = dict
    keys: ApiKeyStore = field(init=False)
    limiter: RateLimiter = field(init=False)
    users: UserDirectory = field(init=False)  # configured users, then console users
    _user_ids: dict[str, int] = field(init=False, default_factory=dict)
    _touched: dict[int, float] = field(init=False, default_factory=dict)
    _checked: dict[str, tuple[float, KeyOwner | None]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = ApiKeyStore(self.store)
        self.limiter = RateLimiter(self.config.api.rate_per_second, self.config.api.rate_burst)
        self.users = UserDirectory(self.config, self.store)

    def user_id(self, user: UserConfig) -> int | None:
        """The store's id of a configured user (``umfax serve`` keeps the users table)."""
        if user.name not in self._user_ids:
            row = self.store.find_user(email=user.email)
            if row is None:
                return None
            self._user_ids[user.name] = row.id
        return self._user_ids[user.name]

    def used(self, key_id: int, every: float = 60.0) -> None:
        """Record that a key was used (at most once a minute: a write per request costs)."""
        now = time.monotonic()
        if now - self._touched.get(key_id, -every) >= every:
            self._touched[key_id] = now
            self.keys.touch(key_id)

    def forget_key(self, key_id: int) -> None:
        """Drop the cached check of key ``key_id`` (revoked in the console: it stops
        working at once in this process, in others within KEY_CACHE_SECONDS)."""
        for key, (_at, owner) in list(self._checked.items()):
            if owner is not None and owner.key_id == key_id:
                self._checked.pop(key, None)

    def owner(self, key: str) -> KeyOwner | None:
        """The owner of ``key`` (None: unknown or revoked), from the store at most every
        KEY_CACHE_SECONDS per key."""
        now = time.monotonic()
        cached = self._checked.get(key)
        if cached is not None and now - cached[0] < KEY_CACHE_SECONDS:
            return cached[1]
        owner = self.keys.check(key)
        if len(self._checked) > 10_000:  # bounded: a flood of wrong keys must not grow it forever
            self._checked.clear()
        self._checked[key] = (now, owner)
        return owner
