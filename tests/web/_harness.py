"""Temporary: the console with the signed-in person named by a test header (until signin lands)."""

from __future__ import annotations

from typing import Any

import requests

from tests.web.conftest import Api
from umfax.api.server import ApiServer
from umfax.web.identity import WebUser

CSRF = "test-csrf"


def console(api: Api) -> tuple[str, ApiServer]:
    server = ApiServer(api.config, api.store)  # listens on a free port, as the api fixture does
    inner = server._server.config.app
    users = {}
    for name in ("ann", "bob", "root", "mute"):
        row = api.store.find_user(email=f"{name}@example.com")
        assert row is not None
        users[name] = WebUser(row.id, name, row.email or "", "", name == "root")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            who = dict(scope["headers"]).get(b"x-test-user", b"").decode()
            if who:
                scope.setdefault("state", {})
                scope["state"]["web_user"] = users[who]
                scope["state"]["csrf_token"] = CSRF
        await inner(scope, receive, send)

    server._server.config.app = app
    server.start()
    return f"http://127.0.0.1:{server.port}", server


def session(name: str) -> requests.Session:
    s = requests.Session()
    s.headers["X-Test-User"] = name
    return s
