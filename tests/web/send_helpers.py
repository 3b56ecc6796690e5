"""What the send and contacts page tests share: a person signed in through the real
sign-in form (:func:`tests.web.signin.signed_in`) and the session's CSRF token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests

from tests.web.conftest import Api
from tests.web.signin import form_token, signed_in


@dataclass
class Browser:
    """A person's signed-in session on the console at ``url``."""

    url: str
    session: requests.Session

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.url + path, allow_redirects=False, timeout=120)

    def post(self, path: str, data: dict[str, object] | None = None, **kwargs: object) -> requests.Response:
        form = {"csrf_token": self.csrf(), **(data or {})}
        return self.session.post(self.url + path, data=form, allow_redirects=False, timeout=300, **kwargs)  # type: ignore[arg-type]

    def csrf(self) -> str:
        """The session's CSRF token, as a form on /send carries it."""
        return form_token(self.session.get(self.url + "/send", timeout=60).text)


SignIn = Callable[[Api, str], Browser]


@pytest.fixture
def sign_in() -> SignIn:
    """``sign_in(api, "ann")``: Ann signed in to that API's console."""
    return lambda api, name: Browser(api.url, signed_in(api, name))
