"""Fixtures shared by the connector tests: the IMAP user's password (test_imap_*.py) and a
certificate, the core's stand-in and a running SmtpIntake (test_smtp_*.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.smtp import SmtpIntake
from tests.connectors.imap_helpers import PASSWORD_ENV as IMAP_PASSWORD_ENV
from tests.connectors.smtp_helpers import PASSWORD, Core, Start, TlsFiles, make_self_signed
from tests.connectors.smtp_helpers import PASSWORD_ENV as SMTP_PASSWORD_ENV
from tests.servers.dovecot import ImapUser
from umfax.config import SmtpConnectorConfig


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch, mail_user: ImapUser) -> str:
    monkeypatch.setenv(IMAP_PASSWORD_ENV, mail_user.password)
    return mail_user.password


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_self_signed(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def core() -> Core:
    return Core()


@pytest.fixture
def start(core: Core, monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """``start(**config)``: a running SmtpIntake on 127.0.0.1 (a free port) for ``core``."""
    monkeypatch.setenv(SMTP_PASSWORD_ENV, PASSWORD)
    running: list[SmtpIntake] = []

    def _start(*, max_recipients: int = 100, timeout: float = 30.0, **overrides: Any) -> SmtpIntake:
        values: dict[str, Any] = {
            "type": "smtp",
            "name": "smtp-test",
            "listen": "127.0.0.1:0",
            "hostname": "fax-gw.example.com",
        }
        values.update(overrides)
        config = SmtpConnectorConfig.model_validate(values)
        intake = SmtpIntake(
            config,
            core.check_recipient,
            core.accept,
            max_recipients=max_recipients,
            timeout=timeout,
        )
        intake.start()
        running.append(intake)
        return intake

    yield _start
    for intake in running:
        intake.stop()
