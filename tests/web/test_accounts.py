"""Accounts in the store: console and configured users, passwords, sessions, setup links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.web.conftest import BACKENDS, Api
from umfax.store.accounts import HASHER, AccountError, AccountStore, WeakPassword
from umfax.store.console_models import Account, WebSession
from umfax.store.web_sessions import SessionStore, digest

PASSWORD = "a long enough password"

#: The accounts and sessions are store code: both backends.
pytestmark = pytest.mark.parametrize("store_url", BACKENDS, indirect=True)


def test_console_users_are_users_that_config_syncs_leave_alone(api: Api) -> None:
    accounts = AccountStore(api.store, api.config)
    carol = accounts.create("carol", "Carol@Example.com", display_name="Carol", password=PASSWORD)
    assert carol.origin == "console" and not carol.admin and carol.email == "carol@example.com"
    api.store.sync_users([("ann", "ann@example.com", "", None, True)])
    with api.store.reading() as session:
        from umfax.store.models import User

        rows = {u.name: u.can_send for u in session.query(User)}
    assert rows["carol"] is True and rows["bob"] is False
    with pytest.raises(AccountError, match="already exists"):
        accounts.create("carol2", "carol@example.com")
    with pytest.raises(WeakPassword):
        accounts.create("dave", "dave@example.com", password="short")


def test_configured_users_get_their_role_from_the_config(api: Api) -> None:
    accounts = AccountStore(api.store, api.config)
    listed = {a.name: a for a in accounts.list()}
    assert listed["root"].admin and listed["root"].origin == "config" and not listed["ann"].admin
    with pytest.raises(AccountError, match=r"\[\[users\]\]"):
        accounts.set_admin("ann", True)
    with pytest.raises(AccountError, match="remove it from the configuration"):
        accounts.delete("ann")


def test_passwords_are_argon2id_and_rehashed_when_parameters_change(api: Api) -> None:
    accounts = AccountStore(api.store, api.config)
    accounts.set_password("ann", PASSWORD)
    with api.store.reading() as session:
        stored = session.get(Account, accounts.get("ann").user_id).password_hash  # type: ignore[union-attr]
    assert stored is not None and stored.startswith("$argon2id$")
    assert accounts.verify_password("ann", PASSWORD) is not None
    assert accounts.verify_password("ann", "wrong password!") is None
    weak = HASHER.__class__(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with api.store.writing() as session:
        session.execute(
            update(Account).where(Account.user_id == accounts.get("ann").user_id).values(password_hash=weak)
        )
    assert accounts.verify_password("ann", PASSWORD) is not None
    with api.store.reading() as session:
        renewed = session.get(Account, accounts.get("ann").user_id).password_hash  # type: ignore[union-attr]
    assert renewed != weak and not HASHER.check_needs_rehash(renewed or "")


def test_sessions_expire_and_store_only_digests(api: Api) -> None:
    accounts, sessions = (
        AccountStore(api.store, api.config),
        SessionStore(api.store, lifetime=3600, idle_timeout=600),
    )
    ann = accounts.get("ann")
    new = sessions.start(ann.user_id)
    with api.store.reading() as session:
        assert (
            session.get(WebSession, new.token) is None
            and session.get(WebSession, digest(new.token)) is not None
        )
    found = sessions.find(new.token)
    assert found is not None and found.user.name == "ann" and found.csrf_token == new.csrf_token
    with api.store.writing() as session:
        row = session.get(WebSession, digest(new.token))
        assert row is not None
        row.seen_at = row.seen_at - timedelta(minutes=11)
    assert sessions.find(new.token) is None  # idle too long: gone
    with api.store.reading() as session:
        assert session.get(WebSession, digest(new.token)) is None


def test_setup_tokens_are_single_use(api: Api) -> None:
    sessions = SessionStore(api.store)
    token = sessions.create_setup_token()
    assert sessions.setup_token_valid(token)
    assert sessions.use_setup_token(token)
    assert not sessions.use_setup_token(token) and not sessions.setup_token_valid(token)
    assert not sessions.setup_token_valid("made-up")


def test_console_users_may_own_api_keys(api: Api) -> None:
    import requests

    from umfax.store.api_keys import ApiKeyStore

    accounts = AccountStore(api.store, api.config)
    accounts.create("carol", "carol@example.com", password=PASSWORD)
    _, key = ApiKeyStore(api.store).create("carol")
    answer = requests.get(api.url + "/api/v1/faxes", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert answer.status_code == 200
    sent = api.send("ann")
    assert sent.status_code in (200, 201, 202)
    assert (
        requests.get(
            api.url + f"/api/v1/faxes/{sent.json()['id']}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        ).status_code
        == 404
    )
