"""Who uses umfax: the configured [[users]], then people added in the console.

A console user has no [[users]] entry; the directory describes them as one (their row's
name, email and can_send, their account's role, no mail delivery), read from the store
at most every ``CACHE_SECONDS`` per name, so a disabled account's keys stop working
within that time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

from sqlalchemy import select

from umfax.config import Config, UserConfig
from umfax.store import Store
from umfax.store.console_models import Account
from umfax.store.models import User

CACHE_SECONDS = 5.0


class UserDirectory(Mapping[str, UserConfig]):
    """User name -> user, configured users first."""

    def __init__(self, config: Config, store: Store) -> None:
        self.configured = {user.name: user for user in config.users}
        self.store = store
        self._cache: dict[str, tuple[float, UserConfig | None]] = {}

    def __getitem__(self, name: str) -> UserConfig:
        user = self.configured.get(name)
        if user is None:
            user = self._console_user(name)
        if user is None:
            raise KeyError(name)
        return user

    def _console_user(self, name: str) -> UserConfig | None:
        now = time.monotonic()
        cached = self._cache.get(name)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        with self.store.reading() as session:
            found = session.execute(
                select(User, Account)
                .join(Account, Account.user_id == User.id)
                .where(User.name == name, Account.origin == "console", Account.disabled.is_(False))
            ).first()
        user = None
        if found is not None and found[0].email:
            row, account = found
            user = UserConfig(
                name=row.name,
                email=row.email or "",
                display_name=row.display_name,
                can_send=row.can_send,
                admin=account.admin,
                delivery="none",
            )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[name] = (now, user)
        return user

    def _console_names(self) -> list[str]:
        with self.store.reading() as session:
            return list(
                session.scalars(
                    select(User.name)
                    .join(Account, Account.user_id == User.id)
                    .where(Account.origin == "console", Account.disabled.is_(False))
                )
            )

    def __iter__(self) -> Iterator[str]:
        yield from self.configured
        yield from (name for name in self._console_names() if name not in self.configured)

    def __len__(self) -> int:
        return sum(1 for _ in self)
