"""SmtpIntake with STARTTLS and AUTH against real SMTP clients (smtplib) on 127.0.0.1:
certificate checks, credentials, the TLS/AUTH requirements and their config errors."""

from __future__ import annotations

import logging
import smtplib
import ssl
from pathlib import Path

import pytest

from connectors.smtp import SmtpIntake
from tests.connectors.smtp_helpers import (
    GOOD,
    MESSAGE,
    PASSWORD,
    PASSWORD_ENV,
    Core,
    Start,
    TlsFiles,
    assert_password_not_logged,
    auth_kwargs,
    client,
    make_self_signed,
    tls_kwargs,
)
from umfax.config import SmtpConnectorConfig
from umfax.errors import ConfigError

# -- TLS and AUTH -----------------------------------------------------------------------------


def test_starttls_verified_then_auth(start: Start, core: Core, tls_files: TlsFiles) -> None:
    intake = start(**tls_kwargs(tls_files), **auth_kwargs())
    with client(intake) as c:
        c.ehlo()
        assert c.has_extn("starttls")
        assert not c.has_extn("auth")  # not before TLS
        code, _ = c.docmd("AUTH", "PLAIN AHJlbGF5AHMzY3JldC1QYTU1d29yZA==")
        assert code == 538
        assert c.starttls(context=tls_files.client_context())[0] == 220
        c.ehlo()
        assert c.has_extn("auth")
        assert set(c.esmtp_features["auth"].split()) == {"LOGIN", "PLAIN"}
        assert c.login("relay", PASSWORD)[0] == 235
        assert c.sendmail("alice@example.com", [GOOD], MESSAGE) == {}
    assert core.received[0][0] == MESSAGE


def test_starttls_client_rejects_an_unknown_certificate(
    start: Start, tls_files: TlsFiles, tmp_path: Path
) -> None:
    other = make_self_signed(tmp_path / "other")
    intake = start(**tls_kwargs(tls_files))
    with client(intake) as c:
        c.ehlo()
        with pytest.raises(ssl.SSLCertVerificationError):
            c.starttls(context=other.client_context())


@pytest.mark.parametrize(
    ("username", "password"),
    [("relay", "wrong"), ("someone", PASSWORD), ("relay", PASSWORD + "x"), ("", "")],
)
def test_bad_credentials_are_refused(
    start: Start, tls_files: TlsFiles, username: str, password: str, caplog: pytest.LogCaptureFixture
) -> None:
    intake = start(**tls_kwargs(tls_files), **auth_kwargs())
    with caplog.at_level(logging.DEBUG), client(intake) as c:
        c.starttls(context=tls_files.client_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
            c.login(username, password)
        assert failed.value.smtp_code == 535
    failures = [r for r in caplog.records if r.getMessage() == "smtp: authentication failed"]
    assert failures and vars(failures[0])["username"] == username
    assert_password_not_logged(caplog)


def test_auth_login_mechanism(start: Start, tls_files: TlsFiles, caplog: pytest.LogCaptureFixture) -> None:
    intake = start(**tls_kwargs(tls_files), **auth_kwargs())
    with caplog.at_level(logging.DEBUG), client(intake) as c:
        c.starttls(context=tls_files.client_context())
        c.ehlo()
        c.user, c.password = "relay", PASSWORD
        assert c.auth("LOGIN", c.auth_login)[0] == 235
    assert_password_not_logged(caplog)


def test_repeated_auth_failures_close_the_connection(start: Start, tls_files: TlsFiles) -> None:
    intake = start(**tls_kwargs(tls_files), **auth_kwargs())
    with client(intake) as c:
        c.starttls(context=tls_files.client_context())
        c.ehlo()
        codes = [c.docmd("AUTH", "PLAIN AHJlbGF5AHdyb25n")[0] for _ in range(5)]
        assert codes == [535] * 5
        code, _ = c.docmd("AUTH", "PLAIN AHJlbGF5AHdyb25n")
        assert code == 421
        with pytest.raises(smtplib.SMTPServerDisconnected):
            c.noop()


def test_require_tls(start: Start, core: Core, tls_files: TlsFiles) -> None:
    intake = start(**tls_kwargs(tls_files, require_tls=True))
    with client(intake) as c:
        c.ehlo()
        code, _ = c.mail("alice@example.com")
        assert code == 530
        c.starttls(context=tls_files.client_context())
        assert c.sendmail("alice@example.com", [GOOD], MESSAGE) == {}
    assert len(core.received) == 1


def test_require_auth(
    start: Start, core: Core, tls_files: TlsFiles, caplog: pytest.LogCaptureFixture
) -> None:
    intake = start(**tls_kwargs(tls_files), **auth_kwargs(require_auth=True))
    with caplog.at_level(logging.DEBUG), client(intake) as c:
        c.starttls(context=tls_files.client_context())
        c.ehlo()
        assert c.mail("alice@example.com") == (530, b"5.7.0 Authentication required")
        c.rset()
        c.login("relay", PASSWORD)
        assert c.sendmail("alice@example.com", [GOOD], MESSAGE) == {}
    assert len(core.received) == 1
    assert_password_not_logged(caplog)


def test_auth_without_tls_on_loopback(start: Start, core: Core) -> None:
    intake = start(**auth_kwargs(require_auth=True))
    with client(intake) as c:
        c.ehlo()
        assert c.has_extn("auth") and not c.has_extn("starttls")
        assert c.mail("alice@example.com")[0] == 530
        c.rset()
        assert c.login("relay", PASSWORD)[0] == 235
        assert c.sendmail("alice@example.com", [GOOD], MESSAGE) == {}
    assert len(core.received) == 1


def test_auth_needs_tls_away_from_loopback(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    config = SmtpConnectorConfig.model_validate(
        {"type": "smtp", "listen": "0.0.0.0:0", **auth_kwargs(require_auth=True)}
    )
    with pytest.raises(ConfigError, match="require_auth"):
        SmtpIntake(config, core.check_recipient, core.accept)
    # without require_auth: AUTH is simply never offered
    config = SmtpConnectorConfig.model_validate({"type": "smtp", "listen": "0.0.0.0:0", **auth_kwargs()})
    assert not SmtpIntake(config, core.check_recipient, core.accept).auth_enabled


def test_missing_password_is_a_config_error(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    config = SmtpConnectorConfig.model_validate({"type": "smtp", "listen": "127.0.0.1:0", **auth_kwargs()})
    with pytest.raises(ConfigError, match=PASSWORD_ENV):
        SmtpIntake(config, core.check_recipient, core.accept)


def test_bad_certificate_files_are_a_config_error(core: Core, tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("not a certificate")
    config = SmtpConnectorConfig.model_validate(
        {"type": "smtp", "tls_cert": str(tmp_path / "c.pem"), "tls_key": str(tmp_path / "c.pem")}
    )
    with pytest.raises(ConfigError, match="tls_cert"):
        SmtpIntake(config, core.check_recipient, core.accept)
