"""SmtpSender against a real aiosmtpd server on 127.0.0.1 with a recording handler."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from connectors.mail_out import SendError, SmtpSender
from tests.connectors.smtp_helpers import TlsFiles, make_self_signed
from tests.servers.ports import free_port
from umfax.config import MailConfig
from umfax.errors import ConfigError, ConnectorError

PASSWORD_ENV = "UMFAX_TEST_SMTP_OUT_PASSWORD"
PASSWORD = "out-Pa55word"


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class Recorder:
    """aiosmtpd handler: records deliveries; answers RCPT/DATA as told."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address → reply
    data_reply: str = "250 2.0.0 OK"
    mail_reply: str = ""
    delivered: list[Delivered] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address, "250 OK")
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply.startswith("250"):
            with self.lock:
                self.delivered.append(
                    Delivered(
                        str(envelope.mail_from), list(envelope.rcpt_tos), envelope.original_content or b""
                    )
                )
        return self.data_reply

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        ok = auth_data.login == b"umfax" and auth_data.password == PASSWORD.encode()
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)


def server_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)
    return context


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_self_signed(tmp_path_factory.mktemp("smtp-out-tls"))


Serve = Callable[..., tuple[Recorder, int]]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(**smtp_kwargs)``: a running aiosmtpd Controller → (its recorder, its port)."""
    controllers: list[Controller] = []

    def _serve(*, ssl_context: ssl.SSLContext | None = None, **kwargs: Any) -> tuple[Recorder, int]:
        recorder = Recorder()
        port = free_port()
        if "authenticator" in kwargs and kwargs["authenticator"] is None:
            kwargs["authenticator"] = recorder.authenticate
        controller = Controller(
            recorder,
            hostname="127.0.0.1",
            port=port,
            ssl_context=ssl_context,
            server_hostname="mx.example.com",
            **kwargs,
        )
        controller.start()
        controllers.append(controller)
        return recorder, port

    yield _serve
    for controller in controllers:
        controller.stop()


def mail_config(port: int, **overrides: Any) -> MailConfig:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "from_address": "fax@example.com",
    }
    values.update(overrides)
    return MailConfig.model_validate(values)


def report(**headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "umfax <fax@example.com>"
    message["To"] = "Alice <alice@example.com>"
    message["Subject"] = "Fax to +1 212 555 0110: sent"
    message["Message-ID"] = "<umfax.report.1@example.com>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Your fax was sent.\n.\n.. with dots\n")
    return message


def parse(data: bytes) -> EmailMessage:
    parsed = BytesParser(policy=default_policy).parsebytes(data)
    assert isinstance(parsed, EmailMessage)
    return parsed


# -- plain ---------------------------------------------------------------------------------


def test_plain_send_to_all_header_recipients(serve: Serve) -> None:
    recorder, port = serve()
    sender = SmtpSender(mail_config(port))
    message = report(Cc="Bob <bob@example.com>", Bcc="carol@example.com")
    accepted = sender.send(message)
    assert accepted == ("alice@example.com", "bob@example.com", "carol@example.com")
    [got] = recorder.delivered
    assert got.mail_from == "fax@example.com"  # [mail] from_address by default
    assert got.rcpt_tos == ["alice@example.com", "bob@example.com", "carol@example.com"]
    assert b"\r\n" in got.data and b"\n" not in got.data.replace(b"\r\n", b"")
    received = parse(got.data)
    assert received["Bcc"] is None  # never transmitted
    assert received["Subject"] == "Fax to +1 212 555 0110: sent"
    assert received.get_content().replace("\r\n", "\n") == "Your fax was sent.\n.\n.. with dots\n"
    assert message["Bcc"] == "carol@example.com"  # the caller's message is left alone


def test_null_reverse_path_for_automatic_replies(serve: Serve) -> None:
    recorder, port = serve()
    SmtpSender(mail_config(port)).send(report(Auto_Submitted="auto-replied"), envelope_from="")
    assert recorder.delivered[0].mail_from == "<>"  # what aiosmtpd records for MAIL FROM:<>


def test_explicit_envelope(serve: Serve) -> None:
    recorder, port = serve()
    sender = SmtpSender(mail_config(port))
    accepted = sender.send(report(), envelope_from="bounces@example.com", recipients=["dave@example.com"])
    assert accepted == ("dave@example.com",)
    assert recorder.delivered[0].mail_from == "bounces@example.com"
    assert recorder.delivered[0].rcpt_tos == ["dave@example.com"]


def test_raw_bytes_go_with_crlf_line_ends(serve: Serve) -> None:
    recorder, port = serve()
    raw = b"From: fax@example.com\nTo: alice@example.com\nSubject: raw\n\n.\n..x\r\nend\rline"
    accepted = SmtpSender(mail_config(port)).send(raw, recipients=["alice@example.com"])
    assert accepted == ("alice@example.com",)
    assert recorder.delivered[0].data == (
        b"From: fax@example.com\r\nTo: alice@example.com\r\nSubject: raw\r\n\r\n.\r\n..x\r\nend\r\nline\r\n"
    )
    with pytest.raises(ValueError):
        SmtpSender(mail_config(port)).send(raw)


def test_concurrent_sends(serve: Serve) -> None:
    recorder, port = serve()
    sender = SmtpSender(mail_config(port))
    errors: list[BaseException] = []

    def send(n: int) -> None:
        try:
            sender.send(report(), recipients=[f"user{n}@example.com"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert sorted(d.rcpt_tos[0] for d in recorder.delivered) == sorted(
        f"user{n}@example.com" for n in range(8)
    )


# -- TLS and AUTH --------------------------------------------------------------------------


def test_starttls_verified(serve: Serve, tls_files: TlsFiles) -> None:
    recorder, port = serve(tls_context=server_context(tls_files), require_starttls=True)
    sender = SmtpSender(mail_config(port, smtp_tls="starttls"), ca_file=tls_files.cert)
    assert sender.send(report()) == ("alice@example.com",)
    assert len(recorder.delivered) == 1


def test_starttls_untrusted_certificate(serve: Serve, tls_files: TlsFiles, tmp_path: Any) -> None:
    recorder, port = serve(tls_context=server_context(tls_files), require_starttls=True)
    other = make_self_signed(tmp_path / "other")
    with pytest.raises(SendError, match="not trusted") as failed:
        SmtpSender(mail_config(port, smtp_tls="starttls"), ca_file=other.cert).send(report())
    assert failed.value.temporary  # kept and retried while the configuration is fixed
    # verification off (smtp_tls_verify = false): accepted
    assert SmtpSender(mail_config(port, smtp_tls="starttls", smtp_tls_verify=False)).send(report())
    assert len(recorder.delivered) == 1


def test_starttls_not_offered(serve: Serve) -> None:
    recorder, port = serve()
    with pytest.raises(SendError, match="STARTTLS") as failed:
        SmtpSender(mail_config(port, smtp_tls="starttls")).send(report())
    assert failed.value.temporary
    assert recorder.delivered == []  # never sent in clear


def test_implicit_tls_verified(serve: Serve, tls_files: TlsFiles, tmp_path: Any) -> None:
    recorder, port = serve(ssl_context=server_context(tls_files))
    sender = SmtpSender(mail_config(port, smtp_tls="implicit"), ca_file=tls_files.cert)
    assert sender.send(report()) == ("alice@example.com",)
    other = make_self_signed(tmp_path / "other")
    with pytest.raises(SendError, match="not trusted"):
        SmtpSender(mail_config(port, smtp_tls="implicit"), ca_file=other.cert).send(report())
    assert len(recorder.delivered) == 1


def test_login(serve: Serve, tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder, port = serve(tls_context=server_context(tls_files), authenticator=None, auth_required=True)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    config = mail_config(port, smtp_tls="starttls", smtp_username="umfax", smtp_password_env=PASSWORD_ENV)
    assert SmtpSender(config, ca_file=tls_files.cert).send(report()) == ("alice@example.com",)
    assert recorder.logins == ["umfax"]
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with pytest.raises(SendError, match="refused the login") as failed:
        SmtpSender(config, ca_file=tls_files.cert).send(report())
    assert failed.value.code == 535
    assert failed.value.temporary
    assert "wrong" not in str(failed.value)
    assert len(recorder.delivered) == 1


def test_login_needs_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(ConfigError, match=PASSWORD_ENV):
        SmtpSender(mail_config(25, smtp_username="umfax", smtp_password_env=PASSWORD_ENV))


# -- the server says no -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "temporary"),
    [("450 4.2.1 mailbox busy, try later", True), ("550 5.1.1 no such user", False)],
)
def test_every_recipient_refused(serve: Serve, reply: str, temporary: bool) -> None:
    recorder, port = serve()
    recorder.rcpt_replies["alice@example.com"] = reply
    with pytest.raises(SendError) as failed:
        SmtpSender(mail_config(port)).send(report())
    assert isinstance(failed.value, ConnectorError)
    assert failed.value.temporary is temporary
    assert failed.value.code == int(reply[:3])
    assert failed.value.refused == {"alice@example.com": (int(reply[:3]), reply[4:])}
    assert recorder.delivered == []


def test_some_recipients_refused(serve: Serve) -> None:
    recorder, port = serve()
    recorder.rcpt_replies["bob@example.com"] = "550 5.1.1 no such user"
    accepted = SmtpSender(mail_config(port)).send(report(Cc="bob@example.com"))
    assert accepted == ("alice@example.com",)
    assert recorder.delivered[0].rcpt_tos == ["alice@example.com"]


@pytest.mark.parametrize(
    ("where", "reply", "temporary"),
    [
        ("data", "451 4.3.0 local problem", True),
        ("data", "554 5.6.0 content rejected", False),
        ("mail", "421 4.7.0 too busy", True),
        ("mail", "553 5.7.1 sender not allowed", False),
    ],
)
def test_server_errors_map_to_temporary_or_permanent(
    serve: Serve, where: str, reply: str, temporary: bool
) -> None:
    recorder, port = serve()
    setattr(recorder, f"{where}_reply", reply)
    with pytest.raises(SendError) as failed:
        SmtpSender(mail_config(port)).send(report())
    assert failed.value.temporary is temporary
    assert failed.value.code == int(reply[:3])
    assert reply[4:] in str(failed.value)


def test_connection_refused_is_temporary() -> None:
    port = free_port()  # nobody listens there
    with pytest.raises(SendError, match="cannot reach") as failed:
        SmtpSender(mail_config(port), timeout=5).send(report())
    assert failed.value.temporary and failed.value.code is None


def test_no_server_or_no_recipient_is_permanent(serve: Serve) -> None:
    with pytest.raises(SendError, match="smtp_host") as failed:
        SmtpSender(MailConfig()).send(report())
    assert not failed.value.temporary
    _, port = serve()
    message = report()
    del message["To"]
    with pytest.raises(SendError, match="no recipients") as failed:
        SmtpSender(mail_config(port)).send(message)
    assert not failed.value.temporary
