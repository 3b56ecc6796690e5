"""ImapDelivery against a real Dovecot: appending faxes into a user's mailbox as the master
user or as the user, over TLS or STARTTLS; and the Dovecot fixture's own master-user rule."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from connectors.imap import ImapDelivery
from tests.connectors.imap_helpers import ADMIN_ENV, SEEN, contents, message
from tests.servers.dovecot import DovecotServer, ImapUser, make_ca
from umfax.config import ImapDeliveryConfig
from umfax.errors import ConnectorError

# -- delivery ------------------------------------------------------------------------------------


def delivery_config(server: DovecotServer, **overrides: Any) -> ImapDeliveryConfig:
    data: dict[str, Any] = {
        "host": server.host,
        "port": server.tls_port,
        "tls": "implicit",
        "ca_file": server.ca_file,
        "username": server.master_user,
        "password_env": ADMIN_ENV,
        "act_as_user": True,
    }
    if overrides.get("tls") == "starttls":
        data["port"] = server.port
    data.update(overrides)
    return ImapDeliveryConfig.model_validate(data)


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch, dovecot: DovecotServer) -> str:
    monkeypatch.setenv(ADMIN_ENV, dovecot.master_password)
    return dovecot.master_password


def test_delivery_appends_into_the_users_inbox_as_the_master_user(
    dovecot: DovecotServer, mail_user: ImapUser, admin: str
) -> None:
    raw = message("Fax from +1 212 555 0110")
    appended = ImapDelivery(delivery_config(dovecot)).deliver(mail_user.email, raw, flags=["$Fax"])
    assert appended is not None
    inbox = contents(dovecot, mail_user)  # the user's own login sees it
    assert list(inbox) == [appended.uid]
    assert inbox[appended.uid].raw == raw
    assert b"$Fax" in inbox[appended.uid].flags and SEEN not in inbox[appended.uid].flags
    with dovecot.client(mail_user) as imap:
        assert imap.select_folder("INBOX")[b"UIDVALIDITY"] == appended.uidvalidity


def test_delivery_creates_the_folder_over_starttls(
    dovecot: DovecotServer, mail_user: ImapUser, admin: str
) -> None:
    delivery = ImapDelivery(delivery_config(dovecot, tls="starttls"))
    first = delivery.deliver(mail_user.email, message("one"), folder="Faxes/Received")
    second = delivery.deliver(mail_user.email, message("two"), folder="Faxes/Received", flags=[SEEN.decode()])
    assert first is not None and second is not None and second.uid > first.uid
    stored = contents(dovecot, mail_user, "Faxes/Received")
    assert len(stored) == 2 and SEEN in stored[second.uid].flags
    assert contents(dovecot, mail_user) == {}


def test_delivery_from_many_threads(dovecot: DovecotServer, mail_user: ImapUser, admin: str) -> None:
    delivery = ImapDelivery(delivery_config(dovecot))
    errors: list[BaseException] = []

    def deliver(n: int) -> None:
        try:
            delivery.deliver(mail_user.email, message(f"thread {n}"), folder="Faxes")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert len(contents(dovecot, mail_user, "Faxes")) == 6


def test_delivery_errors_are_plain(
    dovecot: DovecotServer, mail_user: ImapUser, admin: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ConnectorError, match="refused") as info:
        ImapDelivery(delivery_config(dovecot)).deliver("nobody-here@example.test", message())
    assert admin not in str(info.value)
    monkeypatch.setenv(ADMIN_ENV, "wrong-" + admin)
    with pytest.raises(ConnectorError, match="refused") as info:
        ImapDelivery(delivery_config(dovecot)).deliver(mail_user.email, message())
    assert admin not in str(info.value)
    monkeypatch.setenv(ADMIN_ENV, admin)
    other = make_ca(tmp_path, "not the server's CA")
    with pytest.raises(ConnectorError, match="certificate not trusted"):
        ImapDelivery(delivery_config(dovecot, ca_file=other.cert_file)).deliver(mail_user.email, message())
    assert contents(dovecot, mail_user) == {}


def test_delivery_as_the_user_itself(
    dovecot: DovecotServer, mail_user: ImapUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ADMIN_ENV, mail_user.password)
    config = delivery_config(dovecot, username="unused", act_as_user=False)
    raw = message("own login")
    assert ImapDelivery(config).deliver(mail_user.email, raw) is not None
    assert [s.raw for s in contents(dovecot, mail_user).values()] == [raw]


# -- the server fixture itself ---------------------------------------------------------------------


def test_only_the_master_user_may_act_as_another(dovecot: DovecotServer) -> None:
    alice, bob = dovecot.add_user(), dovecot.add_user()
    with dovecot.master_client(bob) as imap:
        imap.select_folder("INBOX")
    imap = dovecot.client()
    try:
        with pytest.raises(Exception, match="AUTHENTICATIONFAILED"):
            imap.plain_login(alice.name, alice.password, authorization_identity=bob.name)
    finally:
        imap.shutdown()
