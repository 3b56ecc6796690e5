"""Sign-in with an OpenID Connect provider (a fake one), mapped to users by email."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.web.conftest import StartApi
from tests.web.fake_oidc import FakeOidc
from umfax.store.accounts import AccountStore
from umfax.store.audit import AuditLog


@pytest.fixture
def fake_oidc() -> Iterator[FakeOidc]:
    fake = FakeOidc().start()
    yield fake
    fake.stop()


def test_sign_in_with_a_provider(start_api: StartApi, fake_oidc: FakeOidc) -> None:
    provider = {
        "name": "fake",
        "label": "Fake ID",
        "issuer": fake_oidc.issuer,
        "client_id": fake_oidc.client_id,
    }
    api = start_api(extra={"console": {"oidc": [provider]}})
    assert "Fake ID" in requests.get(api.url + "/signin", timeout=10).text
    browser = requests.Session()
    landed = browser.get(api.url + "/signin/oidc/fake?next=/inbox", allow_redirects=True, timeout=10)
    assert landed.url == api.url + "/inbox"  # back where the person was going, signed in
    assert browser.get(api.url + "/", allow_redirects=False, timeout=10).status_code == 200
    assert AuditLog(api.store).entries(limit=1)[0].action == "signin"

    fake_oidc.email = "stranger@example.com"
    stranger = requests.Session()
    refused = stranger.get(api.url + "/signin/oidc/fake", timeout=10)
    assert refused.status_code == 403 and "no account here" in refused.text
    assert stranger.get(api.url + "/", allow_redirects=False, timeout=10).status_code == 303

    fake_oidc.email, fake_oidc.email_verified = "bob@example.com", False
    unverified = requests.Session().get(api.url + "/signin/oidc/fake", timeout=10)
    assert unverified.status_code == 401 and "verified email" in unverified.text

    AccountStore(api.store, api.config).set_disabled("ann", True)
    fake_oidc.email, fake_oidc.email_verified = "ann@example.com", True
    assert requests.Session().get(api.url + "/signin/oidc/fake", timeout=10).status_code == 403


def test_a_callback_without_its_state_cookie_is_refused(start_api: StartApi, fake_oidc: FakeOidc) -> None:
    provider = {"name": "fake", "issuer": fake_oidc.issuer, "client_id": fake_oidc.client_id}
    api = start_api(extra={"console": {"oidc": [provider]}})
    leaving = requests.get(api.url + "/signin/oidc/fake", allow_redirects=False, timeout=10)
    to_provider = requests.get(leaving.headers["location"], allow_redirects=False, timeout=10)
    callback = requests.get(to_provider.headers["location"], allow_redirects=False, timeout=10)  # no cookie
    assert callback.status_code == 401 and "start again" in callback.text
