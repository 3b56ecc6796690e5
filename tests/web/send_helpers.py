"""What the send and contacts page tests share: a signed-in session and its CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.web._harness import console, session
from tests.web.conftest import Api
from umfax.api.server import ApiServer


@dataclass
class Browser:
    """A person's session on the console at ``url``."""

    url: str
    session: requests.Session

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.url + path, allow_redirects=False, timeout=120)

    def post(self, path: str, data: dict[str, object] | None = None, **kwargs: object) -> requests.Response:
        form = {"csrf_token": self.csrf(), **(data or {})}
        return self.session.post(self.url + path, data=form, allow_redirects=False, timeout=300, **kwargs)  # type: ignore[arg-type]

    def csrf(self) -> str:
        page = self.get("/send").text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, "no CSRF token on /send"
        return found.group(1)


SignIn = Callable[[Api, str], Browser]


@pytest.fixture
def sign_in() -> Iterator[SignIn]:
    """``sign_in(api, "ann")``: Ann's browser on that API's console."""
    servers: dict[int, tuple[str, ApiServer]] = {}

    def browser(api: Api, name: str) -> Browser:
        if id(api) not in servers:
            servers[id(api)] = console(api)
        return Browser(servers[id(api)][0], session(name))

    yield browser
    for _, server in servers.values():
        server.stop()
