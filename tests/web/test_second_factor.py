"""TOTP: setting it up, signing in with it, require_totp, wrong and replayed codes, sealing."""

from __future__ import annotations

import time

import pyotp
import requests

from tests.web.conftest import Api, StartApi
from tests.web.signin import DEFAULT_PASSWORD, form_token, sign_in_form, signed_in
from umfax.store.accounts import AccountStore
from umfax.web.second_factor import SEALED, seal


def _code(secret: str, step_offset: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * step_offset)


def test_set_up_then_sign_in_with_a_code(api: Api) -> None:
    ann = signed_in(api, "ann")
    page = ann.get(api.url + "/account/totp", timeout=10)
    assert page.status_code == 200 and "otpauth://totp/umfax" in page.text
    secret = page.text.split('name="secret" value="')[1].split('"')[0]
    wrong = ann.post(
        api.url + "/account/totp",
        data={"csrf_token": form_token(page.text), "secret": secret, "code": "000000"},
        allow_redirects=False,
        timeout=10,
    )
    assert wrong.status_code == 400
    setup_code = _code(secret, -1)
    done = ann.post(
        api.url + "/account/totp",
        data={"csrf_token": form_token(page.text), "secret": secret, "code": setup_code},
        allow_redirects=False,
        timeout=10,
    )
    assert done.status_code == 303
    stored = AccountStore(api.store, api.config).totp_secret(AccountStore(api.store).get("ann").user_id)
    assert stored is not None and stored.startswith(SEALED) and secret not in stored

    browser = requests.Session()
    answer = sign_in_form(browser, api, "ann", DEFAULT_PASSWORD, next_path="/inbox")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin/totp")
    # password alone is not enough
    assert browser.get(api.url + "/", allow_redirects=False, timeout=10).status_code == 303
    form = browser.get(api.url + answer.headers["location"], timeout=10)
    token = form_token(form.text)
    replay = browser.post(
        api.url + "/signin/totp",
        data={"csrf_token": token, "code": setup_code, "next": "/inbox"},
        allow_redirects=False,
        timeout=10,
    )
    assert replay.status_code == 401  # the code used at setup is spent
    ok = browser.post(
        api.url + "/signin/totp",
        data={"csrf_token": token, "code": _code(secret), "next": "/inbox"},
        allow_redirects=False,
        timeout=10,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/inbox"
    assert browser.get(api.url + "/", allow_redirects=False, timeout=10).status_code == 200


def test_require_totp_forces_set_up(start_api: StartApi) -> None:
    api = start_api(extra={"console": {"require_totp": True}})
    AccountStore(api.store, api.config).set_password("bob", DEFAULT_PASSWORD)
    browser = requests.Session()
    answer = sign_in_form(browser, api, "bob", DEFAULT_PASSWORD)
    assert answer.headers["location"].startswith("/account/totp")
    assert browser.get(api.url + "/", allow_redirects=False, timeout=10).status_code == 303
    page = browser.get(api.url + answer.headers["location"], timeout=10)
    assert "asks everyone for a code" in page.text
    secret = page.text.split('name="secret" value="')[1].split('"')[0]
    done = browser.post(
        api.url + "/account/totp",
        data={"csrf_token": form_token(page.text), "secret": secret, "code": _code(secret)},
        allow_redirects=False,
        timeout=10,
    )
    assert done.status_code == 303
    assert browser.get(api.url + "/", allow_redirects=False, timeout=10).status_code == 200


def test_a_pending_session_cannot_replace_an_existing_factor(api: Api) -> None:
    accounts = AccountStore(api.store, api.config)
    accounts.set_password("ann", DEFAULT_PASSWORD)
    accounts.set_totp_secret(accounts.get("ann").user_id, seal(api.config, pyotp.random_base32()))
    browser = requests.Session()
    sign_in_form(browser, api, "ann", DEFAULT_PASSWORD)
    page = browser.get(api.url + "/account/totp", allow_redirects=False, timeout=10)
    assert page.status_code == 303 and page.headers["location"].startswith("/signin/totp")
