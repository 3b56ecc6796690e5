"""The REST API, served by uvicorn on 127.0.0.1 over a real store, with the conversion
worker running so that jobs get pages; clients are plain ``requests``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from umfax.api.server import ApiServer
from umfax.config import Config, parse_config
from umfax.prepare import ConversionWorker
from umfax.store import Store
from umfax.store.api_keys import ApiKeyStore
from umfax.store.database import make_engine

USERS = [
    {"name": "ann", "email": "ann@example.com", "display_name": "Ann"},
    {"name": "bob", "email": "bob@example.com"},
    {"name": "root", "email": "root@example.com", "admin": True},
    {"name": "mute", "email": "mute@example.com", "can_send": False},
]


@dataclass
class Api:
    config: Config
    store: Store
    url: str
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, user: str = "ann", **more: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[user]}", **more}

    def get(self, path: str, user: str = "ann", **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, headers=self.headers(user), timeout=30, **kwargs)

    def post(
        self, path: str, user: str = "ann", headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        return requests.post(
            self.url + path, headers=self.headers(user) | (headers or {}), timeout=30, **kwargs
        )

    def send(
        self,
        user: str = "ann",
        text: str = "Hello",
        to: str = "+1 212 555 0110",
        headers: dict[str, str] | None = None,
        **fields: str,
    ) -> requests.Response:
        return self.post(
            "/api/v1/faxes",
            user,
            headers=headers,
            data={"to": to, **fields},
            files={"file": ("note.txt", text.encode(), "text/plain")},
        )


StartApi = Callable[..., Api]


@pytest.fixture
def start_api(tmp_path: Path, store_url: str) -> Iterator[StartApi]:
    """Start an API (with ``api`` overrides); everything started is stopped at the end."""
    started: list[tuple[ApiServer, threading.Event, ConversionWorker | None, Store]] = []

    def start(
        *,
        signing_secret_env: str = "UMFAX_TEST_WEBHOOK_SECRET",
        extra: dict[str, Any] | None = None,
        convert: bool = True,
        **api: Any,
    ) -> Api:
        """``convert=False`` runs no conversion worker: jobs stay where the test puts them."""
        config = parse_config(
            {
                "server": {"data_dir": str(tmp_path / f"data{len(started)}")},
                "store": {"url": store_url},
                "queue": {"poll_interval": "0.1s"},
                "fax": {"cover": False},
                "conversion": {"isolate": False},  # in process: no child to spawn per test
                "users": USERS,
                "webhooks": {"signing_secret_env": signing_secret_env},
                "api": {"listen": "127.0.0.1:0"} | api,
            }
            | (extra or {})
        )
        store = Store(make_engine(store_url))
        store.sync_users([(u["name"], u["email"], "", None, bool(u.get("can_send", True))) for u in USERS])
        server = ApiServer(config, store, lambda: {"faxbox": {"connected": True}})
        server.start()
        stop, wake = threading.Event(), threading.Event()
        converter = ConversionWorker(store, config, "test/convert", stop, wake) if convert else None
        if converter is not None:
            converter.start()
        started.append((server, stop, converter, store))
        keys = ApiKeyStore(store)
        handle = Api(config, store, f"http://127.0.0.1:{server.port}")
        for user in ("ann", "bob", "root", "mute"):
            handle.keys[user] = keys.create(user)[1]
        return handle

    yield start
    for server, stop, converter, store in started:
        server.stop()
        stop.set()
        if converter is not None:
            converter.join(timeout=30)
        store.close()


@pytest.fixture
def api(start_api: StartApi) -> Api:
    return start_api()
