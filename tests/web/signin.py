"""Sign in to the console in tests, through the real sign-in form.

``signed_in(api, "ann")`` gives a ``requests.Session`` carrying ann's session cookie:
the password is set through :class:`~umfax.store.accounts.AccountStore` (the test users
of ``tests/api/conftest.py`` have none), then the sign-in form is fetched and posted with
its CSRF token, as a browser would.  ``csrf_token(session, api)`` reads the signed-in
session's CSRF token from a page, for posting forms.
"""

from __future__ import annotations

import re

import requests

from tests.api.conftest import Api
from umfax.store.accounts import AccountStore

DEFAULT_PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(html: str) -> str:
    """The CSRF token of the first form in a page."""
    found = _CSRF.search(html)
    if found is None:
        raise AssertionError("the page has no form with a csrf_token")
    return found.group(1)


def csrf_token(session: requests.Session, api: Api, path: str = "/") -> str:
    """The CSRF token of the session, read from the page at ``path``."""
    return form_token(session.get(api.url + path, timeout=30).text)


def sign_in_form(
    session: requests.Session, api: Api, login: str, password: str, next_path: str = "/"
) -> requests.Response:
    """Post the sign-in form as a browser would (no redirects followed)."""
    page = session.get(api.url + "/signin", timeout=30)
    return session.post(
        api.url + "/signin",
        data={"login": login, "password": password, "next": next_path, "csrf_token": form_token(page.text)},
        allow_redirects=False,
        timeout=30,
    )


def signed_in(
    api: Api, user_name: str, password: str = DEFAULT_PASSWORD, *, set_password: bool = True
) -> requests.Session:
    """A ``requests.Session`` signed in to the console as ``user_name``."""
    if set_password:
        AccountStore(api.store, api.config).set_password(user_name, password)
    session = requests.Session()
    answer = sign_in_form(session, api, user_name, password)
    if answer.status_code != 303 or "umfax_session" not in session.cookies:
        raise AssertionError(f"signing in as {user_name} failed: {answer.status_code} {answer.text[:300]}")
    return session
