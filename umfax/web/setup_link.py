"""The one-time link that creates the first administrator, printed by ``umfax serve``
while no administrator can sign in (single use, 24 hours, only its digest stored)."""

from __future__ import annotations

from umfax.config import Config
from umfax.store import Store
from umfax.store.accounts import AccountStore
from umfax.store.web_sessions import SessionStore


def console_url(config: Config) -> str:
    """Where people reach the console: ``[api] public_url``, else ``http://<listen>``."""
    return config.api.public_url.rstrip("/") or f"http://{config.api.listen}"


def setup_link(config: Config, store: Store) -> str | None:
    """A new setup link when no administrator can sign in yet, else None."""
    if not config.api.enabled or AccountStore(store, config).has_admin():
        return None
    return f"{console_url(config)}/setup/{SessionStore(store).create_setup_token()}"
