"""Fixtures shared by the connector tests."""

from __future__ import annotations

import pytest

from tests.connectors.imap_helpers import PASSWORD_ENV
from tests.servers.dovecot import ImapUser


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch, mail_user: ImapUser) -> str:
    monkeypatch.setenv(PASSWORD_ENV, mail_user.password)
    return mail_user.password
