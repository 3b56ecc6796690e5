"""A stand-in for console sign-in while the real one (tests/web/signin.py) is not here:
an ASGI wrapper that takes the person from an ``X-Test-User`` header and puts them, and
a fixed CSRF token, where the session middleware puts them (``scope["state"]``).

Only for tests and the bench: the server under test is otherwise the real one."""

from __future__ import annotations

from typing import Any

import requests
from sqlalchemy import select
from starlette.types import ASGIApp, Receive, Scope, Send

from umfax.api.server import ApiServer
from umfax.store import Store
from umfax.store.models import User
from umfax.web.identity import WebUser

CSRF = "test-csrf-token"
ADMINS = {"root"}


class HeaderSignIn:
    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app, self.store = app, store
        self._users: dict[str, WebUser] = {}

    def _user(self, name: str) -> WebUser | None:
        if name not in self._users:
            with self.store.reading() as session:
                row = session.scalars(select(User).where(User.name == name)).first()
            if row is None:
                return None
            self._users[name] = WebUser(row.id, row.name, row.email or "", row.display_name, name in ADMINS)
        return self._users[name]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers", []))
            name = headers.get(b"x-test-user", b"").decode()
            user = self._user(name) if name else None
            if user is not None:
                state = scope.setdefault("state", {})
                state["web_user"] = user
                state["csrf_token"] = CSRF
        await self.app(scope, receive, send)


def install(server: ApiServer, store: Store) -> None:
    """Wrap the server's app; call before ``server.start()``."""
    config: Any = server._server.config  # test-only wiring
    config.app = HeaderSignIn(config.app, store)


def session_for(name: str) -> requests.Session:
    session = requests.Session()
    session.headers["X-Test-User"] = name
    session.headers["X-CSRF-Token"] = CSRF
    return session
