"""Repeated failures lock an account and an address out; the setup link works once."""

from __future__ import annotations

import re

import requests

from tests.web.conftest import Api, StartApi
from tests.web.signin import DEFAULT_PASSWORD, form_token, sign_in_form
from umfax.store.accounts import AccountStore
from umfax.store.audit import AuditLog
from umfax.web.setup_link import setup_link

FAST = {
    "console": {"failure_delay": "0.01s", "lockout_failures": 3, "lockout_time": "15m", "address_failures": 6}
}


def test_failures_lock_the_account_and_say_when_to_retry(start_api: StartApi) -> None:
    api = start_api(extra=FAST)
    AccountStore(api.store, api.config).set_password("ann", DEFAULT_PASSWORD)
    for _ in range(3):
        assert sign_in_form(requests.Session(), api, "ann", "wrong password").status_code == 401
    locked = sign_in_form(requests.Session(), api, "ann", DEFAULT_PASSWORD)
    assert locked.status_code == 429 and "umfax_session" not in locked.cookies
    assert re.search(r"Try again in 1[45] minutes \(after \d\d:\d\d UTC\)", locked.text), locked.text
    assert AccountStore(api.store).get("ann").locked_until is not None
    # an administrator's reset unlocks
    AccountStore(api.store, api.config).set_password("ann", DEFAULT_PASSWORD)
    assert sign_in_form(requests.Session(), api, "ann", DEFAULT_PASSWORD).status_code == 303


def test_failures_from_one_address_refuse_it(start_api: StartApi) -> None:
    api = start_api(extra=FAST)
    AccountStore(api.store, api.config).set_password("bob", DEFAULT_PASSWORD)
    for n in range(6):
        assert sign_in_form(requests.Session(), api, f"nobody{n}", "wrong password").status_code == 401
    refused = sign_in_form(requests.Session(), api, "bob", DEFAULT_PASSWORD)
    assert refused.status_code == 429 and "from your address" in refused.text
    actions = [e.action for e in AuditLog(api.store).entries(limit=20)]
    assert actions.count("signin_failed") == 7


def test_the_setup_link_creates_the_first_admin_once(api: Api) -> None:
    link = setup_link(api.config, api.store)
    assert link is not None and "/setup/" in link
    path = "/setup/" + link.rsplit("/", 1)[1]
    browser = requests.Session()
    page = browser.get(api.url + path, timeout=10)
    assert page.status_code == 200 and "first administrator" in page.text
    fields = {"csrf_token": form_token(page.text), "name": "boss", "email": "boss@example.com"}
    differ = browser.post(
        api.url + path,
        data=fields | {"password": DEFAULT_PASSWORD, "password_again": "other password"},
        timeout=10,
    )
    assert differ.status_code == 400 and "differ" in differ.text
    made = browser.post(
        api.url + path,
        data=fields | {"password": DEFAULT_PASSWORD, "password_again": DEFAULT_PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert made.status_code == 303 and "umfax_session" in browser.cookies
    home = browser.get(api.url + "/", timeout=10)
    assert "Welcome, boss" in home.text and 'href="/admin"' in home.text
    assert AccountStore(api.store).get("boss").admin
    again = requests.get(api.url + path, timeout=10)
    assert again.status_code == 404 and "used already or has expired" in again.text
    assert setup_link(api.config, api.store) is None  # an administrator exists now
    assert requests.get(api.url + "/setup/made-up", timeout=10).status_code == 404
