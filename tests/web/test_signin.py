"""Signing in and out of the console: passwords, sessions, cookies, CSRF, next links."""

from __future__ import annotations

import requests

from tests.web.conftest import Api
from tests.web.signin import DEFAULT_PASSWORD, csrf_token, form_token, sign_in_form, signed_in
from umfax.store.accounts import AccountStore
from umfax.store.audit import AuditLog


def test_sign_in_and_out(api: Api) -> None:
    session = signed_in(api, "ann")
    home = session.get(api.url + "/", allow_redirects=False, timeout=10)
    assert home.status_code == 200 and "Welcome, ann" in home.text
    token = csrf_token(session, api)
    out = session.post(api.url + "/signout", data={"csrf_token": token}, allow_redirects=False, timeout=10)
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    again = session.get(api.url + "/", allow_redirects=False, timeout=10)
    assert again.status_code == 303 and again.headers["location"].startswith("/signin")
    actions = [entry.action for entry in AuditLog(api.store).entries(limit=10)]
    assert actions[:2] == ["signout", "signin"]


def test_wrong_password_and_unknown_user_say_the_same(api: Api) -> None:
    AccountStore(api.store, api.config).set_password("bob", DEFAULT_PASSWORD)
    wrong = sign_in_form(requests.Session(), api, "bob", "not the password")
    unknown = sign_in_form(requests.Session(), api, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match" in wrong.text and "do not match" in unknown.text
    assert "umfax_session" not in wrong.cookies
    failed = [e for e in AuditLog(api.store).entries(limit=10) if e.action == "signin_failed"]
    assert {e.detail for e in failed} == {"bob", "nobody"}


def test_sign_in_by_email_goes_to_the_local_next_page_only(api: Api) -> None:
    AccountStore(api.store, api.config).set_password("ann", DEFAULT_PASSWORD)
    answer = sign_in_form(
        requests.Session(), api, "ANN@example.com", DEFAULT_PASSWORD, next_path="/inbox?x=1"
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/inbox?x=1"
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        answer = sign_in_form(requests.Session(), api, "ann", DEFAULT_PASSWORD, next_path=evil)
        assert answer.headers["location"] == "/", evil


def test_cookie_flags(api: Api) -> None:
    AccountStore(api.store, api.config).set_password("ann", DEFAULT_PASSWORD)
    answer = sign_in_form(requests.Session(), api, "ann", DEFAULT_PASSWORD)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("umfax_session=")
    for flag in ("HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1


def test_cookie_is_secure_when_the_public_url_is_https(start_api) -> None:  # type: ignore[no-untyped-def]
    api = start_api(public_url="https://fax.example.com")
    AccountStore(api.store, api.config).set_password("ann", DEFAULT_PASSWORD)
    answer = sign_in_form(requests.Session(), api, "ann", DEFAULT_PASSWORD)
    assert "; Secure" in answer.headers["set-cookie"]


def test_changes_without_the_csrf_token_are_refused(api: Api) -> None:
    session = signed_in(api, "ann")
    out = session.post(api.url + "/signout", data={}, allow_redirects=False, timeout=10)
    assert out.status_code == 403
    wrong = session.post(
        api.url + "/signout", data={"csrf_token": "guess"}, allow_redirects=False, timeout=10
    )
    assert wrong.status_code == 403
    assert session.get(api.url + "/", allow_redirects=False, timeout=10).status_code == 200
    # The sign-in form itself is protected before sign-in (double-submit cookie).
    fresh = requests.Session()
    page = fresh.get(api.url + "/signin", timeout=10)
    assert form_token(page.text) == fresh.cookies["umfax_csrf"]
    forged = requests.post(
        api.url + "/signin",
        data={"login": "ann", "password": DEFAULT_PASSWORD, "csrf_token": "x" * 43},
        allow_redirects=False,
        timeout=10,
    )
    assert forged.status_code == 403


def test_a_session_is_its_own_users_only(api: Api) -> None:
    ann, bob = signed_in(api, "ann"), signed_in(api, "bob")
    assert ann.cookies["umfax_session"] != bob.cookies["umfax_session"]
    assert "Welcome, bob" in bob.get(api.url + "/", timeout=10).text
    # bob's CSRF token does not work with ann's session
    out = ann.post(
        api.url + "/signout", data={"csrf_token": csrf_token(bob, api)}, allow_redirects=False, timeout=10
    )
    assert out.status_code == 403
    # a made-up cookie signs no one in, and is removed
    stranger = requests.Session()
    stranger.cookies.set("umfax_session", "made-up")
    answer = stranger.get(api.url + "/", allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and "umfax_session=;" in answer.headers["set-cookie"]


def test_a_disabled_account_is_signed_out(api: Api) -> None:
    session = signed_in(api, "ann")
    AccountStore(api.store, api.config).set_disabled("ann", True)
    assert session.get(api.url + "/", allow_redirects=False, timeout=10).status_code == 303
    assert sign_in_form(requests.Session(), api, "ann", DEFAULT_PASSWORD).status_code == 401
