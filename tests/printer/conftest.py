"""A umfax API server with the fax printer (/ipp/faxout) on 127.0.0.1, over SQLite, for
ipptool and plain HTTP clients.  No conversion worker: printed faxes stay where the
tests put them (pending, until a test moves them on in the store)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import USERS
from tests.conftest import fresh_store_url
from umfax import composition
from umfax.api.server import ApiServer
from umfax.config import Config, parse_config
from umfax.store import Store
from umfax.store.accounts import AccountStore
from umfax.store.api_keys import ApiKeyStore
from umfax.store.database import make_engine

PASSWORD = "Correct-Horse-Battery-9"


@dataclass
class PrinterSite:
    config: Config
    store: Store
    port: int
    keys: dict[str, str] = field(default_factory=dict)

    def uri(self, user: str | None = "ann", password: str = PASSWORD) -> str:
        """The printer URI, with credentials (as ipptool takes them) unless ``user`` is None."""
        auth = f"{user}:{password}@" if user else ""
        return f"ipp://{auth}127.0.0.1:{self.port}/ipp/faxout"


@pytest.fixture
def printer_site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PrinterSite]:
    marker = request.node.get_closest_marker("printer_settings")
    extra: dict[str, Any] = marker.args[0] if marker else {}
    url = next(fresh_store_url(request, tmp_path, "sqlite"))
    config = parse_config(
        {
            "server": {"data_dir": str(tmp_path / "data")},
            "store": {"url": url},
            "fax": {"cover": False, "default_country": "US"},
            "conversion": {"isolate": False},
            "users": USERS,
            "api": {"listen": "127.0.0.1:0"},
            "dial_rules": {"blocked": ["+1900"]},
        }
        | extra
    )
    store = Store(make_engine(url))
    store.sync_users([(u["name"], u["email"], "", None, bool(u.get("can_send", True))) for u in USERS])
    accounts = AccountStore(store, config)
    accounts.sync_config(config.users)
    accounts.set_password("ann", PASSWORD)
    accounts.set_password("mute", PASSWORD)
    server = ApiServer(config, store, dict, composition.printer(config, store))
    server.start()
    site = PrinterSite(config, store, server.port)
    keys = ApiKeyStore(store)
    for user in ("ann", "bob"):
        site.keys[user] = keys.create(user)[1]
    try:
        yield site
    finally:
        server.stop()
        store.close()
