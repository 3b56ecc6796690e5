"""SmtpIntake against real SMTP clients (smtplib) on 127.0.0.1.

``accept`` and ``check_recipient`` are recording stand-ins for the core: what is tested
is the connector's side of the contract (the exact bytes and envelope handed over, the
answer given only once ``accept`` has returned, the reply codes, TLS and AUTH).

This module: the SMTP dialogue, replies and limits, and the life cycle; TLS and AUTH are
in test_smtp_auth.py.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import threading
import time

import pytest

from connectors.smtp import TEMPFAIL, SmtpIntake, parse_listen, smtp_reply
from tests.connectors.smtp_helpers import FAX_DOMAIN, GOOD, GOOD2, MESSAGE, Core, Start, client
from umfax.config import SmtpConnectorConfig
from umfax.errors import ConfigError, ConnectorError, StoreError
from umfax.mail.intake import IntakeResult, MailRef, Outcome

# -- the listener ----------------------------------------------------------------------------


def test_banner_and_extensions(start: Start) -> None:
    intake = start(max_message_size=50_000)
    with client(intake) as c:
        code, _ = c.docmd("NOOP")
        assert code == 250
        code, _ = c.ehlo()
        assert code == 250
        assert c.has_extn("size") and c.esmtp_features["size"] == "50000"
        assert c.has_extn("8bitmime")
        assert not c.has_extn("starttls")  # no certificate configured
        assert not c.has_extn("auth")  # no AUTH configured
        code, _ = c.docmd("AUTH", "PLAIN AHJlbGF5AHMzY3JldA==")
        assert code == 504
    # the banner names the configured host
    with socket.create_connection(("127.0.0.1", intake.port), timeout=5) as raw:
        greeting = raw.recv(512)
    assert greeting.startswith(b"220 fax-gw.example.com ESMTP")


def test_rcpt_is_checked(start: Start, core: Core) -> None:
    intake = start()
    with client(intake) as c:
        c.ehlo()
        assert c.mail("alice@example.com")[0] == 250
        code, text = c.rcpt("bob@example.com")
        assert code == 550
        assert text.startswith(b"5.1.1 <bob@example.com> is not a fax address here")
        assert c.rcpt(GOOD) == (250, b"2.1.5 OK")
        assert c.rcpt(f"IMCEAFAX-Bob+20+2B1+20212+20555+200111@{FAX_DOMAIN}")[0] == 250
    assert core.checked == ["bob@example.com", GOOD, f"IMCEAFAX-Bob+20+2B1+20212+20555+200111@{FAX_DOMAIN}"]
    assert core.received == []


def test_message_and_envelope_reach_accept_exactly(start: Start, core: Core) -> None:
    intake = start()
    raw = (
        b"From: Alice <alice@example.com>\r\n"
        b"To: 12125550110@fax.example.com, 12125550111@fax.example.com\r\n"
        b"Subject: =?utf-8?q?caf=C3=A9?=\r\n"
        b"\r\n"
        b".a line starting with a dot\r\n"
        b"..two dots\r\n"
        b".\r\n"  # a lone dot inside the message: stuffed on the wire, restored here
        b"8-bit: caf\xe9 \xff\r\n"
        b"a bare\nLF and a bare\rCR stay as sent\r\n"
        b"   trailing spaces   \r\n"
        b"\r\n"
        b"\r\n"
    )
    with client(intake) as c:
        refused = c.sendmail("alice@example.com", [GOOD, "bob@example.com", GOOD2], raw)
        assert refused == {"bob@example.com": (550, refused["bob@example.com"][1])}
    assert len(core.received) == 1
    got, ref = core.received[0]
    assert got == raw
    assert ref == MailRef(
        connector="smtp-test",
        envelope_from="alice@example.com",
        envelope_to=(GOOD, GOOD2),
        peer="127.0.0.1",
    )
    assert ref.key is None  # SMTP messages have no mailbox position
    assert core.threads and not core.threads[0].startswith("MainThread")


def test_data_reply_names_the_jobs(start: Start, core: Core) -> None:
    intake = start()
    with client(intake) as c:
        c.ehlo()
        c.mail("alice@example.com")
        c.rcpt(GOOD)
        assert c.data(MESSAGE) == (250, b"2.0.0 queued as fax job(s) 12, 13")
        # a second message on the same connection, a duplicate of committed jobs
        core.result = IntakeResult(Outcome.DUPLICATE, (12, 13))
        c.mail("alice@example.com")
        c.rcpt(GOOD)
        assert c.data(MESSAGE) == (250, b"2.0.0 queued as fax job(s) 12, 13")
    assert len(core.received) == 2


def test_null_reverse_path_and_repeated_recipient(start: Start, core: Core) -> None:
    intake = start()
    with client(intake) as c:
        c.sendmail("", [GOOD, GOOD.upper(), GOOD2], MESSAGE)
    _, ref = core.received[0]
    assert ref.envelope_from == ""
    assert ref.envelope_to == (GOOD, GOOD2)


def test_250_only_after_accept_returned(start: Start, core: Core) -> None:
    core.gate = threading.Event()
    intake = start()
    replies: list[tuple[int, bytes]] = []

    def send() -> None:
        with client(intake) as c:
            c.ehlo()
            c.mail("alice@example.com")
            c.rcpt(GOOD)
            replies.append(c.data(MESSAGE))

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert core.entered.wait(5)
        time.sleep(0.5)
        assert sender.is_alive() and replies == []  # the client waits for the verdict
        # the event loop is not blocked meanwhile: another client is served
        with client(intake, timeout=2) as other:
            assert other.ehlo()[0] == 250
            assert other.noop()[0] == 250
        assert not core.returned.is_set()
    finally:
        core.gate.set()
        sender.join(10)
    assert replies == [(250, b"2.0.0 queued as fax job(s) 12, 13")]


def test_accept_failing_is_a_temporary_failure(
    start: Start, core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    core.error = StoreError("database is locked")
    intake = start()
    with caplog.at_level(logging.INFO, logger="connectors.smtp"), client(intake) as c:
        with pytest.raises(smtplib.SMTPDataError) as failed:
            c.sendmail("alice@example.com", [GOOD], MESSAGE)
        assert failed.value.smtp_code == 451
        assert failed.value.smtp_error == TEMPFAIL[4:].encode()
        # the MTA tries again later; this time the store is back
        core.error = None
        assert c.sendmail("alice@example.com", [GOOD], MESSAGE) == {}
    assert len(core.received) == 1
    failure = next(r for r in caplog.records if getattr(r, "outcome", "") == "tempfail")
    assert failure.levelno == logging.ERROR and failure.exc_info is not None
    queued = next(r for r in caplog.records if getattr(r, "outcome", "") == "queued")
    facts = vars(queued)
    assert facts["peer"] == "127.0.0.1"
    assert facts["mail_from"] == "alice@example.com"
    assert facts["rcpt_count"] == 1
    assert facts["jobs"] == [12, 13]
    assert facts["bytes"] == len(MESSAGE)


def test_recipient_check_failing_is_temporary(start: Start, core: Core) -> None:
    core.recipient_error = RuntimeError("dial plan unavailable")
    intake = start()
    with client(intake) as c:
        c.ehlo()
        c.mail("alice@example.com")
        code, text = c.rcpt(GOOD)
    assert code == 451 and text.startswith(b"4.3.0")


@pytest.mark.parametrize(
    ("result", "code", "text"),
    [
        (
            IntakeResult(Outcome.REFUSED, (), "alice@example.com may not send faxes"),
            550,
            b"5.7.1 alice@example.com may not send faxes",
        ),
        (
            IntakeResult(Outcome.INVALID, (), "there is nothing to fax: attach the documents"),
            554,
            b"5.6.0 there is nothing to fax: attach the documents",
        ),
        (IntakeResult(Outcome.DUPLICATE, (), "not allowed"), 554, b"5.6.0 not allowed"),
    ],
    ids=["refused", "invalid", "duplicate-of-refused"],
)
def test_refusals_are_permanent_with_the_reason(
    start: Start, core: Core, result: IntakeResult, code: int, text: bytes
) -> None:
    core.result = result
    intake = start()
    with client(intake) as c, pytest.raises(smtplib.SMTPDataError) as failed:
        c.sendmail("alice@example.com", [GOOD], MESSAGE)
    assert (failed.value.smtp_code, failed.value.smtp_error) == (code, text)


def test_long_and_non_ascii_reason_fits_smtp(start: Start, core: Core) -> None:
    numbers = "; ".join(f"+1 212 555 {n:04d}: not in the dial plan" for n in range(60))
    reason = "Zo\u00eb\u2019s message \u2014 " + numbers
    core.result = IntakeResult(Outcome.INVALID, (), reason)
    intake = start()
    with client(intake) as c, pytest.raises(smtplib.SMTPDataError) as failed:
        c.sendmail("alice@example.com", [GOOD], MESSAGE)
    assert failed.value.smtp_code == 554
    error = failed.value.smtp_error
    assert isinstance(error, bytes)
    lines = error.split(b"\n")  # smtplib joins continuation lines with \n
    assert 1 < len(lines) <= 8
    assert all(line.startswith(b"5.6.0 ") and len(line) < 500 for line in lines)
    assert lines[0].startswith(b"5.6.0 Zoe's message - +1 212 555 0000: not in the dial plan")
    assert error.isascii()


def test_size_limit(start: Start, core: Core) -> None:
    intake = start(max_message_size=2048)
    big = MESSAGE + b"x" * 76 + b"\r\n"
    big = big * 40
    with client(intake) as c:
        # smtplib declares SIZE at MAIL: refused there
        with pytest.raises(smtplib.SMTPSenderRefused) as early:
            c.sendmail("alice@example.com", [GOOD], big)
        assert early.value.smtp_code == 552
        # a client that does not declare it is refused at the end of DATA
        c.rset()
        assert c.mail("alice@example.com")[0] == 250
        assert c.rcpt(GOOD)[0] == 250
        code, _ = c.data(big)
        assert code == 552
        # the session goes on
        assert c.sendmail("alice@example.com", [GOOD], MESSAGE) == {}
    assert [raw for raw, _ in core.received] == [MESSAGE]


def test_too_many_recipients(start: Start, core: Core) -> None:
    intake = start(max_recipients=3)
    with client(intake) as c:
        c.ehlo()
        c.mail("alice@example.com")
        for n in range(3):
            assert c.rcpt(f"1212555010{n}@{FAX_DOMAIN}")[0] == 250
        code, text = c.rcpt(f"12125550109@{FAX_DOMAIN}")
        assert (code, text) == (452, b"4.5.3 Too many recipients")
        assert c.data(MESSAGE)[0] == 250
    assert len(core.received[0][1].envelope_to) == 3


def test_long_lines_are_kept(start: Start, core: Core) -> None:
    intake = start()
    body = b"A" * 20_000  # one-line base64, as some clients write it
    raw = MESSAGE + body + b"\r\n"
    with client(intake) as c:
        assert c.sendmail("alice@example.com", [GOOD], raw) == {}
    assert core.received[0][0] == raw


# -- life cycle -----------------------------------------------------------------------------


def test_port_in_use_and_stop(start: Start, core: Core) -> None:
    first = start()
    config = SmtpConnectorConfig.model_validate({"type": "smtp", "listen": f"127.0.0.1:{first.port}"})
    second = SmtpIntake(config, core.check_recipient, core.accept)
    with pytest.raises(ConnectorError, match="cannot listen"):
        second.start()
    assert not second.running
    assert first.health().listening
    first.stop()
    assert not first.health().listening
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", first.port), timeout=2).close()


def test_stop_lets_a_message_being_queued_finish(start: Start, core: Core) -> None:
    core.gate = threading.Event()
    intake = start()
    errors: list[BaseException] = []

    def send() -> None:
        try:
            with client(intake) as c:
                c.sendmail("alice@example.com", [GOOD], MESSAGE)
        except (smtplib.SMTPException, OSError) as exc:
            errors.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    assert core.entered.wait(5)
    threading.Timer(0.3, core.gate.set).start()
    intake.stop()  # waits for accept: the jobs are committed, the MTA will retry (a duplicate)
    assert core.returned.is_set() and len(core.received) == 1
    sender.join(10)
    assert errors  # no 250 went out: the client saw the connection close


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:2525") == ("127.0.0.1", 2525)
    assert parse_listen("[::1]:25") == ("::1", 25)
    assert parse_listen(":25") == ("", 25)
    for bad in ("localhost", "::1:25", "host:port", "host:70000"):
        with pytest.raises(ConfigError):
            parse_listen(bad)


def test_smtp_reply_is_one_line_when_short() -> None:
    assert smtp_reply(550, "5.1.1", "no\r\nsuch  fax") == "550 5.1.1 no such fax"
