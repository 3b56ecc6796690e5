"""Fixtures for the tests that need a mail server: a throwaway Dovecot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.dovecot import DovecotServer, ImapUser, dovecot_binary


def require_dovecot() -> None:
    if dovecot_binary() is None:
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd; scripts/test does it)")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One Dovecot for the session; tests isolate themselves with their own users."""
    require_dovecot()
    with DovecotServer() as server:
        yield server


@pytest.fixture
def private_dovecot() -> Iterator[DovecotServer]:
    """A Dovecot of the test's own, for tests that restart or stop it."""
    require_dovecot()
    with DovecotServer() as server:
        yield server


@pytest.fixture
def mail_user(dovecot: DovecotServer) -> ImapUser:
    """A fresh user with an empty mailbox on the session's Dovecot."""
    return dovecot.add_user()
