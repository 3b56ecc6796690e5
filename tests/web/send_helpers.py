"""What the send and contacts page tests share: a signed-in session and its CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.web._harness import console, session
from tests.web.conftest import Api


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


SignIn = Callable[[str], Browser]


@pytest.fixture
def sign_in(api: Api) -> Iterator[SignIn]:
    url, server = console(api)
    yield lambda name: Browser(url, session(name))
    server.stop()
